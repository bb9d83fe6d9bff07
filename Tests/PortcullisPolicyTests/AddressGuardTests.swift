@testable import PortcullisPolicy
import Testing

@Suite("The address guard")
struct AddressGuardTests {
    /// (address, the range named in rejected_by)
    static let guarded: [(String, String)] = [
        ("169.254.169.254", "guard:169.254.169.254/32"), ("169.254.170.2", "guard:169.254.170.2/32"),
        ("168.63.129.16", "guard:168.63.129.16/32"), ("100.100.100.200", "guard:100.100.100.200/32"),
        ("fd00:ec2::254", "guard:fd00:ec2::254/128"), ("169.254.1.1", "guard:169.254.0.0/16"), ("fe80::1", "guard:fe80::/10"),
        ("127.0.0.1", "guard:127.0.0.0/8"), ("127.255.255.254", "guard:127.0.0.0/8"), ("::1", "guard:::1/128"),
        ("0.0.0.0", "guard:0.0.0.0/8"), ("::", "guard:::/128"), ("10.1.2.3", "guard:10.0.0.0/8"),
        ("172.16.0.1", "guard:172.16.0.0/12"), ("172.31.255.255", "guard:172.16.0.0/12"), ("192.168.1.1", "guard:192.168.0.0/16"),
        ("100.64.0.1", "guard:100.64.0.0/10"), ("fc00::1", "guard:fc00::/7"), ("fd12:3456::1", "guard:fc00::/7"),
        ("224.0.0.1", "guard:224.0.0.0/4"), ("ff02::1", "guard:ff00::/8"), ("255.255.255.255", "guard:255.255.255.255/32"),
        ("240.0.0.1", "guard:240.0.0.0/4"), ("192.0.2.10", "guard:192.0.2.0/24"), ("198.51.100.7", "guard:198.51.100.0/24"),
        ("203.0.113.9", "guard:203.0.113.0/24"), ("198.18.0.1", "guard:198.18.0.0/15"), ("192.0.0.8", "guard:192.0.0.0/24"),
        ("64:ff9b::a9fe:a9fe", "guard:64:ff9b::/96"), ("2002:a9fe:a9fe::1", "guard:2002::/16"), ("2001:0:4136:e378::1", "guard:2001::/32"),
        ("::a9fe:a9fe", "guard:::/96"), ("2001:db8::1", "guard:2001:db8::/32"),
    ]

    @Test("guarded addresses are rejected as IP literals, naming the range", arguments: guarded)
    func literal(address: String, code: String) {
        let d = decide(.unrestricted, [], target(address))
        #expect(d.verdict == .reject)
        #expect(d.rejectedBy == code)
        #expect(d.stage == .address)
    }

    @Test("guarded addresses are rejected when a name resolves to them, in every mode but isolated", arguments: [Mode.unrestricted, .audit, .denylist, .allowlist])
    func resolved(mode: Mode) {
        let d = decide(mode, [allow("metadata.test")], target("metadata.test", port: 80), resolved: ["169.254.169.254"])
        #expect(d.verdict == .reject)
        #expect(d.rejectedBy == "guard:169.254.169.254/32")
        #expect(!d.wouldReject, "audit mode never softens the guard")
        #expect(!d.joinsPending)
    }

    @Test("IPv4-mapped IPv6 is checked as the IPv4 it maps")
    func mapped() {
        #expect(decide(.unrestricted, [], target("::ffff:169.254.169.254")).rejectedBy == "guard:169.254.169.254/32")
        #expect(decide(.unrestricted, [], target("[::ffff:7f00:1]")).rejectedBy == "guard:127.0.0.0/8")
    }

    @Test("every IPv4 spelling of loopback meets the guard", arguments: ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7F000001", "127.0.1"])
    func spellings(_ spelling: String) {
        let d = decide(.unrestricted, [], target(spelling))
        #expect(d.rejectedBy == "guard:127.0.0.0/8")
        #expect(d.host == .address(.v4(IPv4Address(127, 0, 0, 1))))
    }

    @Test("public addresses pass the guard")
    func publicAddresses() {
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "1.1.1.1"] {
            #expect(decide(.unrestricted, [], target(a)).verdict == .allow, "\(a)")
        }
    }

    @Test("an allow IP/CIDR rule opens the guard for the addresses it covers")
    func allowRuleOpens() {
        let rules = [allow("10.0.0.0/8", port: 5432), allow("internal.test")]
        #expect(decide(.allowlist, rules, target("10.1.2.3", port: 5432)).verdict == .allow)
        #expect(decide(.allowlist, rules, target("10.1.2.3", port: 22)).rejectedBy == "guard:10.0.0.0/8")
        #expect(decide(.allowlist, rules, target("internal.test", port: 5432), resolved: ["10.9.9.9"]).verdict == .allow)
        #expect(decide(.allowlist, rules, target("internal.test", port: 80), resolved: ["10.9.9.9"]).rejectedBy == "guard:10.0.0.0/8")
        #expect(decide(.allowlist, [allow("169.254.169.254")], target("169.254.169.254")).verdict == .allow)
    }

    @Test("server exemptions narrow the guard, but never for link-local or metadata")
    func exemptions() throws {
        let g = AddressGuard(exemptions: [try HostParser.parseNetwork("10.0.0.0/8"), try HostParser.parseNetwork("169.254.0.0/16")])
        let p = CompiledPolicy(mode: .unrestricted, rules: [], version: 1, addressGuard: g)
        #expect(p.decide(target("10.1.1.1")).verdict == .allow)
        #expect(p.decide(target("169.254.169.254")).verdict == .reject)
        #expect(p.decide(target("169.254.1.1")).verdict == .reject)
        #expect(p.decide(target("192.168.1.1")).verdict == .reject)
    }

    @Test("the gateway's own addresses are guarded")
    func gatewayAddresses() {
        let g = AddressGuard(gatewayAddresses: [ip("93.184.216.34")])
        let p = CompiledPolicy(mode: .unrestricted, rules: [], version: 1, addressGuard: g)
        #expect(p.decide(target("93.184.216.34")).rejectedBy == "guard:93.184.216.34/32")
    }

    @Test("of several answers only permitted ones are tried, in order")
    func severalAnswers() {
        let p = policy(.denylist, [])
        let s = p.evaluate(target("mixed.test"), resolved: [ip("10.0.0.1"), ip("93.184.216.34"), ip("::1"), ip("2606:4700::1")])
        #expect(s.permitted == [ip("93.184.216.34"), ip("2606:4700::1")])
        #expect(s.rejected.map(\.0) == [ip("10.0.0.1"), ip("::1")])
        #expect(s.decision.verdict == .allow)
        let none = p.evaluate(target("private.test"), resolved: [ip("10.0.0.1"), ip("192.168.0.1")])
        #expect(none.permitted.isEmpty)
        #expect(none.decision.rejectedBy == "guard:10.0.0.0/8")
    }
}

@Suite("The guard and the pending queue")
struct GuardPendingTests {
    @Test("a guarded IP literal in allowlist mode is the guard's rejection and never joins the pending queue")
    func guardedLiteralIsNotPending() {
        let d = decide(.allowlist, [allow("example.com")], target("169.254.169.254", port: 80))
        #expect(d.rejectedBy == "guard:169.254.169.254/32")
        #expect(!d.joinsPending)
        let named = decide(.allowlist, [deny("169.254.169.254", id: "rul_md")], target("169.254.169.254", port: 80))
        #expect(named.rejectedBy == "rul_md", "an explicit deny rule is named before the guard")
        let publicLiteral = decide(.allowlist, [], target("93.184.216.34"))
        #expect(publicLiteral.rejectedBy == "default-deny")
        #expect(publicLiteral.joinsPending)
    }
}
