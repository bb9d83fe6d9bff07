@testable import PortcullisPolicy
import Testing

/// Every row of POLICY-MODEL.md's mode table: no rule matches / an allow rule matches /
/// a deny rule matches, in each of the five modes.
@Suite("The mode table")
struct ModeTableTests {
    enum Situation: String, CaseIterable {
        case noRuleMatches, allowRuleMatches, denyRuleMatches
    }

    struct Row: CustomTestStringConvertible {
        let mode: Mode
        let situation: Situation
        let verdict: Verdict
        let wouldReject: Bool
        let rejectedBy: String?
        var testDescription: String { "\(mode), \(situation): \(verdict)\(wouldReject ? " (would_reject)" : "")" }
    }

    static let rows: [Row] = [
        Row(mode: .unrestricted, situation: .noRuleMatches, verdict: .allow, wouldReject: false, rejectedBy: nil),
        Row(mode: .unrestricted, situation: .allowRuleMatches, verdict: .allow, wouldReject: false, rejectedBy: nil),
        Row(mode: .unrestricted, situation: .denyRuleMatches, verdict: .allow, wouldReject: false, rejectedBy: nil),
        Row(mode: .audit, situation: .noRuleMatches, verdict: .allow, wouldReject: true, rejectedBy: "default-deny"),
        Row(mode: .audit, situation: .allowRuleMatches, verdict: .allow, wouldReject: false, rejectedBy: nil),
        Row(mode: .audit, situation: .denyRuleMatches, verdict: .allow, wouldReject: true, rejectedBy: "rul_deny"),
        Row(mode: .allowlist, situation: .noRuleMatches, verdict: .reject, wouldReject: false, rejectedBy: "default-deny"),
        Row(mode: .allowlist, situation: .allowRuleMatches, verdict: .allow, wouldReject: false, rejectedBy: nil),
        Row(mode: .allowlist, situation: .denyRuleMatches, verdict: .reject, wouldReject: false, rejectedBy: "rul_deny"),
        Row(mode: .denylist, situation: .noRuleMatches, verdict: .allow, wouldReject: false, rejectedBy: nil),
        Row(mode: .denylist, situation: .allowRuleMatches, verdict: .allow, wouldReject: false, rejectedBy: nil),
        Row(mode: .denylist, situation: .denyRuleMatches, verdict: .reject, wouldReject: false, rejectedBy: "rul_deny"),
        Row(mode: .isolated, situation: .noRuleMatches, verdict: .reject, wouldReject: false, rejectedBy: "mode:isolated"),
        Row(mode: .isolated, situation: .allowRuleMatches, verdict: .reject, wouldReject: false, rejectedBy: "mode:isolated"),
        Row(mode: .isolated, situation: .denyRuleMatches, verdict: .reject, wouldReject: false, rejectedBy: "mode:isolated"),
    ]

    static let rules = [allow("allowed.example", id: "rul_allow"), deny("denied.example", id: "rul_deny")]

    @Test("each mode treats each situation as the table says", arguments: rows)
    func row(_ row: Row) {
        let host = switch row.situation {
        case .noRuleMatches: "other.example"
        case .allowRuleMatches: "allowed.example"
        case .denyRuleMatches: "denied.example"
        }
        let d = decide(row.mode, Self.rules, target(host))
        #expect(d.verdict == row.verdict)
        #expect(d.wouldReject == row.wouldReject)
        #expect(d.rejectedBy == row.rejectedBy)
        #expect(d.policyVersion == 7)
        #expect(d.mode == row.mode)
        if row.situation == .allowRuleMatches && row.mode != .unrestricted && row.mode != .isolated {
            #expect(d.ruleID == "rul_allow")
        }
    }

    @Test("only an allowlist rejection for want of a rule joins the pending queue", arguments: rows)
    func pending(_ row: Row) {
        let host = row.situation == .noRuleMatches ? "other.example" : row.situation == .allowRuleMatches ? "allowed.example" : "denied.example"
        let d = decide(row.mode, Self.rules, target(host))
        #expect(d.joinsPending == (row.mode == .allowlist && row.situation == .noRuleMatches))
    }

    @Test("a warn-only allow rule warns in allowlist, denylist and audit modes", arguments: [Mode.allowlist, .denylist, .audit])
    func warnOnly(_ mode: Mode) {
        let d = decide(mode, [allow("api.experimental.example.com", id: "rul_w", warnOnly: true)], target("api.experimental.example.com"))
        #expect(d.verdict == .warn)
        #expect(d.ruleID == "rul_w")
        #expect(d.rejectedBy == nil)
        #expect(d.reason.contains("warn-only"))
    }

    @Test("the mode aliases enforce and observe parse to allowlist and audit")
    func aliases() {
        #expect(Mode(parsing: "enforce") == .allowlist)
        #expect(Mode(parsing: "observe") == .audit)
        #expect(Mode(parsing: "allowlist") == .allowlist)
        #expect(Mode(parsing: "Allowlist") == nil)
        #expect(Mode(parsing: "") == nil)
    }

    @Test("every decision says why in a sentence naming the host")
    func reasons() {
        let rejected = decide(.allowlist, Self.rules, target("other.example"))
        #expect(rejected.reason.contains("other.example"))
        #expect(rejected.reason.contains("pending"))
        let denied = decide(.allowlist, Self.rules, target("denied.example"))
        #expect(denied.reason.contains("rul_deny"))
        let audited = decide(.audit, Self.rules, target("denied.example"))
        #expect(audited.reason.hasPrefix("audit mode:"))
        #expect(decide(.isolated, Self.rules, target("allowed.example")).reason.contains("isolated"))
    }
}
