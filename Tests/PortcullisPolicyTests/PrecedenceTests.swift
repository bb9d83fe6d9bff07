@testable import PortcullisPolicy
import Testing

/// POLICY-MODEL.md's pattern kinds and precedence sentences, one test each.
@Suite("Patterns and precedence")
struct PrecedenceTests {
    // MARK: pattern kinds

    @Test("an exact name covers that name only", arguments: [
        ("api.openai.com", true), ("openai.com", false), ("x.api.openai.com", false), ("api.openai.com.evil.test", false),
    ])
    func exact(host: String, allowed: Bool) {
        let d = decide(.allowlist, [allow("api.openai.com")], target(host))
        #expect(d.verdict.permits == allowed)
    }

    @Test("a wildcard covers one or more labels below, never the apex", arguments: [
        ("api.openai.com", true), ("a.b.c.openai.com", true), ("openai.com", false), ("notopenai.com", false), ("openai.com.test", false),
    ])
    func wildcard(host: String, allowed: Bool) {
        let d = decide(.allowlist, [allow("*.openai.com")], target(host))
        #expect(d.verdict.permits == allowed)
    }

    @Test("an IP rule and a CIDR rule cover IP-literal targets", arguments: [
        ("8.8.8.8", "8.8.8.8", true), ("8.8.8.8", "8.8.4.4", false), ("8.8.0.0/16", "8.8.4.4", true),
        ("8.8.0.0/16", "8.9.0.1", false), ("2606:4700::/32", "2606:4700::1111", true), ("2606:4700::1111", "2606:4700::1111", true),
    ])
    func addressPatterns(pattern: String, host: String, allowed: Bool) {
        #expect(decide(.allowlist, [allow(pattern)], target(host)).verdict.permits == allowed)
    }

    @Test("a CIDR rule never covers a name target at the name stage, even one resolving inside it")
    func cidrIsForLiterals() {
        let d = decide(.allowlist, [allow("93.184.0.0/16")], target("example.com"), resolved: ["93.184.216.34"])
        #expect(d.verdict == .reject)
        #expect(d.rejectedBy == "default-deny")
    }

    @Test("a name rule never covers an IP-literal target")
    func namesAreForNames() {
        #expect(decide(.allowlist, [allow("*.example.com")], target("93.184.216.34")).rejectedBy == "default-deny")
    }

    // MARK: precedence

    @Test("any matching deny rule rejects, even when a more specific allow rule matches")
    func denyAlwaysWins() {
        let d = decide(.allowlist, [allow("api.openai.com", id: "rul_a"), deny("*.openai.com", id: "rul_d")], target("api.openai.com"))
        #expect(d.verdict == .reject)
        #expect(d.rejectedBy == "rul_d")
        #expect(d.stage == .name)
    }

    @Test("a local deny beats a default profile's allow")
    func localDenyBeatsProfile() throws {
        let profile = try #require(BuiltinProfiles.named("default-package-managers"))
        let layers = PolicyLayers(tenantDefaultMode: .allowlist, localRules: [deny("pypi.org", id: "rul_local")], sandboxProfiles: [profile])
        let compiled = CompiledPolicy(layers: layers, version: 1)
        #expect(compiled.decide(target("pypi.org")).rejectedBy == "rul_local")
        #expect(compiled.decide(target("files.pythonhosted.org")).verdict == .allow)
        #expect(compiled.decide(target("files.pythonhosted.org")).rule?.source == .profile("default-package-managers"))
    }

    @Test("exact beats wildcard")
    func exactBeatsWildcard() {
        let rules = [allow("*.openai.com", id: "rul_w"), allow("api.openai.com", id: "rul_e", warnOnly: true)]
        let d = decide(.allowlist, rules, target("api.openai.com"))
        #expect(d.ruleID == "rul_e")
        #expect(d.verdict == .warn)
    }

    @Test("a longer wildcard suffix beats a shorter one")
    func longerWildcard() {
        let rules = [allow("*.example.com", id: "rul_short"), allow("*.api.example.com", id: "rul_long", warnOnly: true)]
        #expect(decide(.allowlist, rules, target("v1.api.example.com")).ruleID == "rul_long")
        #expect(decide(.allowlist, rules, target("www.example.com")).ruleID == "rul_short")
    }

    @Test("a longer CIDR prefix beats a shorter one")
    func longerPrefix() {
        let rules = [allow("8.0.0.0/8", id: "rul_8"), allow("8.8.8.0/24", id: "rul_24", warnOnly: true)]
        #expect(decide(.allowlist, rules, target("8.8.8.8")).ruleID == "rul_24")
        #expect(decide(.allowlist, rules, target("8.1.1.1")).ruleID == "rul_8")
    }

    @Test("a rule with a port beats one without, on the same host")
    func portBeatsNoPort() {
        let rules = [allow("api.example.com", id: "rul_any"), allow("api.example.com", id: "rul_443", port: 443, warnOnly: true)]
        #expect(decide(.allowlist, rules, target("api.example.com", port: 443)).ruleID == "rul_443")
        #expect(decide(.allowlist, rules, target("api.example.com", port: 8443)).ruleID == "rul_any")
    }

    @Test("a rule's port and protocol must match when it sets them")
    func portAndProtocol() {
        let rules = [rule("allow", "github.com", port: 443, transport: "tcp")]
        #expect(decide(.allowlist, rules, target("github.com", port: 443)).verdict == .allow)
        #expect(decide(.allowlist, rules, target("github.com", port: 22)).verdict == .reject)
        let udp = Target(host: .name(DomainName(canonical: "github.com")), port: 443, transport: .udp)
        #expect(decide(.allowlist, rules, udp).verdict == .reject)
    }

    @Test("a DNS question ignores ports: any allow rule lets the name resolve; only port-less deny rules refuse it")
    func dnsIgnoresPorts() {
        let q = Target.dnsQuestion(DomainName(canonical: "pypi.org"))
        #expect(decide(.allowlist, [allow("pypi.org", port: 443)], q).verdict == .allow)
        #expect(decide(.allowlist, [allow("pypi.org"), deny("pypi.org", port: 80)], q).verdict == .allow)
        #expect(decide(.allowlist, [allow("pypi.org"), deny("pypi.org")], q).verdict == .reject)
        #expect(decide(.allowlist, [allow("pypi.org", methods: ["GET"])], q).verdict == .allow)
    }

    // MARK: except

    @Test("a deny rule's except list carves an exception out of the deny")
    func except() {
        let rules = [deny("*.corp.example", id: "rul_corp", except: ["jira.corp.example"])]
        #expect(decide(.denylist, rules, target("jira.corp.example")).verdict == .allow)
        #expect(decide(.denylist, rules, target("wiki.corp.example")).rejectedBy == "rul_corp")
        let cidr = [deny("10.0.0.0/8", id: "rul_ten", except: ["10.1.0.0/16"])]
        #expect(decide(.denylist, cidr, target("10.2.0.1")).rejectedBy == "rul_ten")
    }

    // MARK: endpoint stage

    @Test("an allow rule's methods and paths apply where the request is visible")
    func endpoints() {
        let rules = [allow("api.openai.com", id: "rul_chat", methods: ["POST"], paths: ["/v1/chat/*"])]
        #expect(decide(.allowlist, rules, target("api.openai.com", method: "POST", path: "/v1/chat/completions")).verdict == .allow)
        #expect(decide(.allowlist, rules, target("api.openai.com", method: "POST", path: "/v1/chat")).verdict == .allow)
        let wrongMethod = decide(.allowlist, rules, target("api.openai.com", method: "DELETE", path: "/v1/chat/x"))
        #expect(wrongMethod.rejectedBy == "endpoint-not-allowed")
        #expect(wrongMethod.stage == .endpoint)
        #expect(wrongMethod.ruleID == "rul_chat")
        #expect(decide(.allowlist, rules, target("api.openai.com", method: "POST", path: "/v1/chatty")).verdict == .reject)
        #expect(decide(.allowlist, rules, target("api.openai.com", method: "POST", path: "/v1/chat/../admin")).verdict == .reject)
        #expect(decide(.allowlist, rules, target("api.openai.com", method: "POST", path: "/v1/chat/%2e%2e/admin")).verdict == .reject)
        #expect(decide(.allowlist, rules, target("api.openai.com", method: "POST", path: "/v1/chat/a%2Fb")).verdict == .reject)
        #expect(decide(.allowlist, rules, target("api.openai.com", method: "POST", path: "/v1/chat/x?q=1")).verdict == .allow)
    }

    @Test("an opaque tunnel that only an endpoint rule would allow is rejected, saying so")
    func opaqueTunnel() {
        let d = decide(.allowlist, [allow("api.openai.com", methods: ["POST"])], target("api.openai.com"))
        #expect(d.verdict == .reject)
        #expect(d.rejectedBy == "endpoint-opaque")
        #expect(d.reason.contains("opaque tunnel"))
        #expect(!d.joinsPending)
        #expect(decide(.audit, [allow("api.openai.com", methods: ["POST"])], target("api.openai.com")).wouldReject)
    }

    @Test("of equally specific rules, one whose endpoint fits decides, and a plain allow beats a warn-only one")
    func tierTieBreaks() {
        let rules = [allow("api.example.com", id: "rul_get", methods: ["GET"]),
                     allow("api.example.com", id: "rul_post_warn", methods: ["POST"], warnOnly: true),
                     allow("api.example.com", id: "rul_post", methods: ["POST"])]
        #expect(decide(.allowlist, rules, target("api.example.com", method: "POST", path: "/")).ruleID == "rul_post")
        #expect(decide(.allowlist, rules, target("api.example.com", method: "GET", path: "/")).ruleID == "rul_get")
    }
}
