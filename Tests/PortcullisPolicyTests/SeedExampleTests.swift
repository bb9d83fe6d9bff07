@testable import PortcullisPolicy
import Testing

/// The three seed examples POLICY-MODEL.md cites.
@Suite("Seed examples")
struct SeedExampleTests {
    /// Isorun: `network: {deny: ["0.0.0.0/0"], allow: ["api.openai.com", "pypi.org"]}`.
    static let isorun = [deny("0.0.0.0/0", id: "rul_all"), allow("api.openai.com", id: "rul_openai"), allow("pypi.org", id: "rul_pypi")]

    @Test("Isorun deny 0.0.0.0/0 with allowed names lets the names through in allowlist mode, and nothing else")
    func isorunAllowlist() {
        #expect(decide(.allowlist, Self.isorun, target("api.openai.com"), resolved: ["162.159.140.245"]).verdict == .allow)
        #expect(decide(.allowlist, Self.isorun, target("pypi.org"), resolved: ["151.101.0.223"]).ruleID == "rul_pypi")
        #expect(decide(.allowlist, Self.isorun, target("example.com"), resolved: ["93.184.216.34"]).rejectedBy == "default-deny")
        #expect(decide(.allowlist, Self.isorun, target("93.184.216.34")).rejectedBy == "rul_all")
    }

    @Test("Isorun deny 0.0.0.0/0 with allowed names: even in denylist mode the names pass and other names are caught at the address")
    func isorunDenylist() {
        #expect(decide(.denylist, Self.isorun, target("api.openai.com"), resolved: ["162.159.140.245"]).verdict == .allow)
        let other = decide(.denylist, Self.isorun, target("example.com"), resolved: ["93.184.216.34"])
        #expect(other.verdict == .reject)
        #expect(other.rejectedBy == "rul_all")
        #expect(other.stage == .address)
    }

    @Test("a denylist CIDR cannot be bypassed with a name that resolves into it")
    func denylistCIDR() {
        let rules = [deny("185.220.0.0/16", id: "rul_tor")]
        #expect(decide(.denylist, rules, target("185.220.101.4")).rejectedBy == "rul_tor")
        let viaName = decide(.denylist, rules, target("innocent.example"), resolved: ["185.220.101.4"])
        #expect(viaName.verdict == .reject)
        #expect(viaName.rejectedBy == "rul_tor")
        #expect(viaName.reason.contains("185.220.101.4"))
        #expect(decide(.denylist, rules, target("innocent.example"), resolved: ["93.184.216.34"]).verdict == .allow)
        #expect(decide(.audit, rules, target("innocent.example"), resolved: ["185.220.101.4"]).wouldReject)
    }

    @Test("a wildcard never matches its apex (Isorun: list the apex separately)")
    func wildcardApex() {
        let rules = [allow("*.openai.com")]
        #expect(decide(.allowlist, rules, target("cdn.openai.com")).verdict == .allow)
        #expect(decide(.allowlist, rules, target("openai.com")).verdict == .reject)
        #expect(decide(.allowlist, rules + [allow("openai.com")], target("openai.com")).verdict == .allow)
    }

    @Test("Isorun's metadata deny example blocks the metadata address and name, and nothing else")
    func metadataDeny() {
        let rules = [deny("169.254.169.254", id: "rul_md"), deny("metadata.google.internal", id: "rul_mdn")]
        #expect(decide(.denylist, rules, target("example.com"), resolved: ["93.184.216.34"]).verdict == .allow)
        #expect(decide(.denylist, rules, target("169.254.169.254", port: 80)).rejectedBy == "rul_md")
        #expect(decide(.denylist, rules, target("metadata.google.internal", port: 80)).rejectedBy == "rul_mdn")
    }
}
