import PortcullisPolicy
import Testing

/// Which TLS connections are opened (INSPECTION.md): the rules of the tier that decides
/// the host say so; everything else stays an opaque tunnel.
@Suite("Which hosts are terminated")
struct InspectionNeedTests {
    static func policy(_ rules: [Rule], _ mode: Mode = .allowlist) -> CompiledPolicy {
        CompiledPolicy(mode: mode, rules: rules, version: 1)
    }
    static func target(_ host: String, _ port: UInt16 = 443) -> Target {
        Target(host: try! HostParser.parseTarget(host), port: port, request: .opaque)
    }
    static func rule(_ id: String, _ host: String, port: UInt16? = nil, methods: [String]? = nil, inspect: Bool? = nil,
                     action: RuleAction = .allow) -> Rule {
        Rule(id: id, action: action, host: try! HostParser.parsePattern(host), port: port, methods: methods, inspect: inspect)
    }

    @Test func aPlainAllowRuleKeepsTheTunnelOpaque() {
        #expect(Self.policy([Self.rule("r", "api.test")]).inspectionNeed(Self.target("api.test")) == nil)
    }

    @Test func anEndpointRuleNeedsInspection() {
        let r = Self.rule("r", "api.test", methods: ["GET"])
        #expect(Self.policy([r]).inspectionNeed(Self.target("api.test")) == .endpointRule(r))
        #expect(Self.policy([r], .audit).inspectionNeed(Self.target("api.test")) == .endpointRule(r))
    }

    @Test func inspectTrueNeedsItAndInspectFalseNeverDoes() {
        let on = Self.rule("r", "*.test", inspect: true)
        #expect(Self.policy([on]).inspectionNeed(Self.target("api.test")) == .inspectRule(on))
        #expect(Self.policy([on], .denylist).inspectionNeed(Self.target("api.test")) == .inspectRule(on))
        let off = Self.rule("r", "api.test", methods: ["GET"], inspect: false)
        #expect(Self.policy([off]).inspectionNeed(Self.target("api.test")) == nil)
    }

    @Test func theMostSpecificTierDecides() {
        // An exact plain rule decides api.test; the wildcard's endpoint rule is for the others.
        let wildcard = Self.rule("w", "*.test", methods: ["GET"])
        let exact = Self.rule("e", "api.test")
        let policy = Self.policy([exact, wildcard])
        #expect(policy.inspectionNeed(Self.target("api.test")) == nil)
        #expect(policy.inspectionNeed(Self.target("other.test")) == .endpointRule(wildcard))
        // A rule with the port beats one without.
        let withPort = Self.rule("p", "api.test", port: 443, methods: ["POST"])
        #expect(Self.policy([exact, withPort]).inspectionNeed(Self.target("api.test")) == .endpointRule(withPort))
        #expect(Self.policy([exact, withPort]).inspectionNeed(Self.target("api.test", 8443)) == nil)
    }

    @Test func modesThatApplyNoRuleInspectNothingAndIPTargetsNeverAre() {
        let r = Self.rule("r", "api.test", inspect: true)
        #expect(Self.policy([r], .unrestricted).inspectionNeed(Self.target("api.test")) == nil)
        #expect(Self.policy([r], .isolated).inspectionNeed(Self.target("api.test")) == nil)
        #expect(Self.policy([Self.rule("ip", "127.0.0.1", inspect: true)]).inspectionNeed(Self.target("127.0.0.1")) == nil)
        let endpoint = Self.rule("d", "api.test", methods: ["GET"])
        #expect(Self.policy([endpoint], .denylist).inspectionNeed(Self.target("api.test")) == nil)
    }
}
