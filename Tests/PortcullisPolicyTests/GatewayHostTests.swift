@testable import PortcullisPolicy
import Testing

/// The gateway's host (`localhost`, `host.portcullis.internal`): one host, reached on
/// 127.0.0.1, one port at a time (docs/policy.md, "The gateway's host").
@Suite("The gateway's host")
struct GatewayHostTests {
    static let loopback = "127.0.0.1"
    static let ollama = [allow("localhost", port: 11434)]

    /// The name stage, then the address stage on what the data plane dials for the gateway's
    /// host (127.0.0.1), as `Egress` does; compiled and reference must agree.
    func dialled(_ mode: Mode, _ rules: [Rule], _ t: Target, at address: String = loopback,
                 guard addressGuard: AddressGuard = AddressGuard(),
                 sourceLocation: SourceLocation = #_sourceLocation) -> Decision {
        let compiled = policy(mode, rules, guard: addressGuard)
        let reference = ReferenceEvaluator(mode: mode, rules: rules, version: 7, addressGuard: addressGuard)
        let c = compiled.check(compiled.decide(t), dialling: ip(address), for: t)
        let r = reference.addressStage(reference.decide(t), ip(address), t)
        #expect(c == r, "compiled and reference disagree", sourceLocation: sourceLocation)
        return c
    }

    @Test("an allow rule for localhost with a port opens exactly that port of 127.0.0.1, in every mode that applies rules",
          arguments: [Mode.allowlist, .audit, .denylist])
    func oneRuleOnePort(mode: Mode) {
        let d = dialled(mode, Self.ollama, target("localhost", port: 11434))
        #expect(d.verdict == .allow && d.ruleID == "rul_allow_localhost:11434" && !d.wouldReject, "\(d.reason)")
        #expect(d.host == .name(GatewayHost.localhost), "the audit says the name as asked")
    }

    @Test("every other loopback port, and every other loopback address, stays guarded")
    func nothingElseOpens() {
        let other = decide(.allowlist, Self.ollama, target("localhost", port: 22))
        #expect(other.verdict == .reject && other.rejectedBy == "guard:127.0.0.0/8", "\(other.reason)")
        #expect(!other.joinsPending, "one click in the pending queue must not open a host port")
        #expect(other.reason.contains("gateway's host"), "\(other.reason)")
        for address in ["::1", "127.0.0.2", "127.1.2.3"] {
            let d = dialled(.allowlist, Self.ollama, target("localhost", port: 11434), at: address)
            #expect(d.verdict == .reject && d.rejectedBy?.hasPrefix("guard:") == true, "\(address): \(d.reason)")
        }
    }

    @Test("with no rule for the port, the guard rejects the gateway's host in every mode, audit and unrestricted too",
          arguments: [Mode.allowlist, .audit, .denylist, .unrestricted])
    func guardedWithoutARule(mode: Mode) {
        for host in ["localhost", "host.portcullis.internal"] {
            let d = dialled(mode, Self.ollama, target(host, port: 8080))
            #expect(d.verdict == .reject && d.rejectedBy == "guard:127.0.0.0/8" && !d.wouldReject, "\(mode) \(host): \(d.reason)")
        }
    }

    @Test("localhost and host.portcullis.internal are one host: a rule for either covers both")
    func oneHostTwoNames() {
        let viaInternal = dialled(.allowlist, Self.ollama, target("host.portcullis.internal", port: 11434))
        #expect(viaInternal.verdict == .allow && viaInternal.ruleID == "rul_allow_localhost:11434")
        #expect(viaInternal.host == .name(GatewayHost.internalName))
        let written = [allow("HOST.Portcullis.Internal.", port: 11434)]
        #expect(dialled(.allowlist, written, target("localhost", port: 11434)).verdict == .allow)
        let denied = dialled(.allowlist, Self.ollama + [deny("host.portcullis.internal")], target("localhost", port: 11434))
        #expect(denied.verdict == .reject && denied.rejectedBy == "rul_deny_host.portcullis.internal")
    }

    @Test("the IP literal 127.0.0.1 is not opened by a rule for the name")
    func literalStaysGuarded() {
        let d = decide(.allowlist, Self.ollama, target("127.0.0.1", port: 11434))
        #expect(d.verdict == .reject && d.rejectedBy == "guard:127.0.0.0/8")
    }

    @Test("an allow rule for the gateway's host without a port is refused, naming the form to write")
    func portRequired() {
        for host in ["localhost", "host.portcullis.internal"] {
            #expect(throws: RuleError.self) { try RuleDraft(action: "allow", host: host).validate(id: "r", source: .local) }
            do {
                _ = try RuleDraft(action: "allow", host: host).validate(id: "r", source: .local)
            } catch {
                #expect(error.message.contains("needs a port, as in \(host):11434"), "\(error.message)")
            }
        }
        #expect((try? RuleDraft(action: "deny", host: "localhost").validate(id: "r", source: .local)) != nil,
                "a deny rule without a port is fine: it closes the whole host")
    }

    @Test("a rule that names the gateway's host without a port, or only by a wildcard, opens nothing")
    func noPortNoWildcard() {
        let portless = Rule(id: "rul_old", action: .allow, host: .exact(GatewayHost.localhost))
        let d = dialled(.allowlist, [portless], target("localhost", port: 11434))
        #expect(d.verdict == .reject && d.rejectedBy == "guard:127.0.0.0/8", "\(d.reason)")
        for pattern in ["*.portcullis.internal", "*.internal"] {
            let w = dialled(.allowlist, [allow(pattern, port: 11434)], target("host.portcullis.internal", port: 11434))
            #expect(w.verdict == .reject && w.rejectedBy == "guard:127.0.0.0/8", "\(pattern): \(w.reason)")
        }
    }

    @Test("deny rules, warn-only rules and endpoint rules work as for any host")
    func rulesAsForAnyHost() {
        let wildcardDeny = dialled(.allowlist, Self.ollama + [deny("*.internal")], target("host.portcullis.internal", port: 11434))
        #expect(wildcardDeny.rejectedBy == "rul_deny_*.internal")
        let audited = dialled(.audit, Self.ollama + [deny("localhost", port: 11434)], target("localhost", port: 11434))
        #expect(audited.verdict == .reject && audited.rejectedBy == "guard:127.0.0.0/8",
                "a deny rule means the port is not opened, audit mode or not")
        let warned = dialled(.allowlist, [allow("localhost", port: 11434, warnOnly: true)], target("localhost", port: 11434))
        #expect(warned.verdict == .warn)
        let api = [allow("localhost", port: 11434, paths: ["/api/*"])]
        #expect(dialled(.allowlist, api, target("localhost", port: 11434, method: "GET", path: "/api/tags")).verdict == .allow)
        let outside = dialled(.allowlist, api, target("localhost", port: 11434, method: "GET", path: "/admin"))
        #expect(outside.verdict == .reject && outside.rejectedBy == "endpoint-not-allowed")
    }

    @Test("a DNS question for the gateway's host is allowed by its rules and otherwise refused by the guard, never queued")
    func dnsQuestions() {
        let question = Target.dnsQuestion(GatewayHost.internalName)
        #expect(decide(.allowlist, Self.ollama, question).verdict == .allow)
        let refused = decide(.allowlist, [], question)
        #expect(refused.verdict == .reject && refused.rejectedBy == "guard:127.0.0.0/8" && !refused.joinsPending)
        #expect(decide(.isolated, Self.ollama, question).rejectedBy == "mode:isolated")
    }

    @Test("--guard-exempt 127.0.0.0/8 exposes every loopback port to every sandbox the mode lets through")
    func exemptionExposesEverything() {
        let exempt = AddressGuard(exemptions: [try! HostParser.parseNetwork("127.0.0.0/8")])
        let ssh = dialled(.audit, [], target("localhost", port: 22), guard: exempt)
        #expect(ssh.verdict == .allow && ssh.wouldReject, "audit mode with no rule reaches any host port")
        let literal = policy(.denylist, [], guard: exempt).decide(target("127.0.0.1", port: 5432))
        #expect(literal.verdict == .allow)
    }

    @Test("compiled and reference agree on random rule sets over the gateway's host", arguments: [11, 12])
    func agree(seedBase: UInt64) {
        var g = CompiledVersusReferenceTests.Generator(state: 0xBEEF &* seedBase)
        let names = ["localhost", "host.portcullis.internal", "portcullis.internal", "a.host.portcullis.internal", "api.test"]
        let patterns: [HostPattern] = names.map { .exact(DomainName(canonical: $0)) } + [
            .wildcard(DomainName(canonical: "internal")), .wildcard(DomainName(canonical: "portcullis.internal")),
            .address(ip("127.0.0.1")), .network(IPNetwork(masking: ip("127.0.0.0"), prefixLength: 8)),
        ]
        let addresses = ["127.0.0.1", "127.0.0.2", "::1", "100.120.0.1", "93.184.216.34"].map { ip($0) }
        var compared = 0
        for set in 0..<300 {
            let rules = (0..<(1 + g.int(6))).map { i in
                Rule(id: "rul_\(i)", action: g.bool(30) ? .deny : .allow, host: g.pick(patterns),
                     port: g.bool(60) ? g.pick([11434, 22]) : nil, warnOnly: g.bool(15))
            }
            let mode = g.pick(Mode.allCases)
            let exempt = AddressGuard(exemptions: g.bool(15) ? [IPNetwork(masking: ip("127.0.0.0"), prefixLength: 8)] : [])
            let compiled = CompiledPolicy(mode: mode, rules: rules, version: UInt64(set), addressGuard: exempt)
            let reference = ReferenceEvaluator(mode: mode, rules: rules, version: UInt64(set), addressGuard: exempt)
            for _ in 0..<10 {
                let dns = g.bool(15)
                let t = Target(host: .name(DomainName(canonical: g.pick(names))), port: dns ? nil : g.pick([11434, 22]),
                               transport: dns ? nil : .tcp, request: dns ? .notApplicable : .opaque)
                let resolved = (0..<g.int(3)).map { _ in g.pick(addresses) }
                let c = compiled.evaluate(t, resolved: resolved), r = reference.evaluate(t, resolved: resolved)
                if c.decision != r.decision || c.permitted != r.permitted {
                    Issue.record("set \(set) mode \(mode) \(t) \(resolved): compiled \(c.decision.basis) \(c.permitted) reference \(r.decision.basis) \(r.permitted); rules \(rules.map { "\($0.action) \($0.host):\($0.port.map(String.init) ?? "-")" })")
                    return
                }
                compared += 1
            }
        }
        #expect(compared == 3000)
    }
}
