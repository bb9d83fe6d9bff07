import CAllocationCounter
@testable import PortcullisPolicy
import Testing

/// The decision path does no heap allocation per request (issue 14: nothing per
/// connection that can be done once per policy change). PortcullisPolicy is built with
/// -O in every configuration (Package.swift), so this holds for the code CI runs as for
/// a release. Counted by the test binary's own
/// malloc family (Tests/CAllocationCounter), on this thread only, so tests running beside
/// it do not count; each case is warmed once first (lazy statics, first-use caches).
@Suite("The decision path does not allocate per request")
struct DecisionAllocationTests {
    static let rules: [Rule] = (0..<1_000).map { i in
        switch i % 4 {
        case 0: return allow("h\(i).example.com", id: "rul_\(i)")
        case 1: return allow("*.w\(i).example.org", id: "rul_\(i)", port: 443)
        case 2: return deny("d\(i).example.net", id: "rul_\(i)")
        default: return allow("api\(i).example.com", id: "rul_\(i)", methods: ["GET", "POST"], paths: ["/v1/*"])
        }
    } + [deny("10.0.0.0/8", id: "rul_net")]

    /// Allocations for `rounds` calls of `body`, after one warm-up call.
    static func allocations(rounds: Int = 200, _ body: () -> Void) -> UInt64 {
        body()
        let before = pc_allocations_on_this_thread()
        for _ in 0..<rounds { body() }
        return pc_allocations_on_this_thread() - before
    }

    @Test("the counter sees an allocation (the test can fail)")
    func counterWorks() {
        final class Box { var n = 0 }
        let n = Self.allocations(rounds: 10) { withExtendedLifetime(Box()) {} }
        #expect(n >= 10)
    }

    @Test("decide: exact, wildcard, deny, endpoint and unmatched targets, in every mode", arguments: Mode.allCases)
    func decideAllocatesNothing(mode: Mode) {
        let compiled = policy(mode, Self.rules)
        let targets = [
            target("h4.example.com"), target("x.w5.example.org"), target("d6.example.net"),
            target("api7.example.com", method: "GET", path: "/v1/chat"),
            target("api7.example.com", method: "DELETE", path: "/v1/chat"),
            target("nowhere.test"), target("10.1.2.3"),
        ]
        for t in targets {
            var decision: Decision?
            let n = Self.allocations { decision = compiled.decide(t) }
            #expect(n == 0, "\(mode) \(t.host): \(n) allocations in 200 decisions (\(decision.map { "\($0.verdict) \($0.reason)" } ?? ""))")
        }
    }

    @Test("the address stage: resolved addresses judged against rules and the guard", arguments: Mode.allCases)
    func evaluateAllocatesNothing(mode: Mode) {
        let compiled = policy(mode, Self.rules + [allow("172.16.5.0/24", id: "rul_cidr"), deny("203.0.113.0/24", id: "rul_doc")])
        for name in ["h8.example.com", "x.w5.example.org", "nowhere.test"] {
            let t = target(name)
            let passing = [ip("93.184.216.34"), ip("2606:2800:220:1::1"), ip("172.16.5.9")]
            let n = Self.allocations { _ = compiled.evaluate(t, resolved: passing) }
            #expect(n == 0, "\(mode) \(name): \(n) allocations in 200 evaluations")
            // A refused address costs the two lists the selection returns, nothing more.
            let mixed = [ip("93.184.216.34"), ip("10.0.0.1"), ip("203.0.113.9")]
            let m = Self.allocations { _ = compiled.evaluate(t, resolved: mixed) }
            #expect(m <= 2 * 200 + 200, "\(mode) \(name): \(m) allocations in 200 evaluations with refused addresses")
        }
    }
}
