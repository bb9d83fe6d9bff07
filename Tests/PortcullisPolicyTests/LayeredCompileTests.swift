@testable import PortcullisPolicy
import Testing

/// A policy chained from shared layers (a sandbox's own rules, its profiles, the tenant's
/// rules, each compiled once) decides exactly as the same rules compiled into one list.
@Suite("Compiled layers versus one compiled list")
struct LayeredCompileTests {
    @Test("chained layers and one list agree on random rule sets, targets and resolved addresses", arguments: [1, 2, 3])
    func agree(seedBase: UInt64) {
        var g = CompiledVersusReferenceTests.Generator(state: 0xFEED &* seedBase)
        for set in 0..<500 {
            let rules = (0..<(1 + g.int(30))).map { g.rule($0) }
            // Cut the list into 1-4 consecutive layers (some possibly empty).
            var cuts = (0..<g.int(4)).map { _ in g.int(rules.count + 1) }.sorted()
            cuts.append(rules.count)
            var layers: [RuleLayer] = []
            var start = 0
            for end in cuts {
                layers.append(RuleLayer(rules: Array(rules[start..<max(start, end)])))
                start = max(start, end)
            }
            let mode = g.pick(Mode.allCases)
            let flat = CompiledPolicy(mode: mode, rules: rules, version: UInt64(set))
            let chained = CompiledPolicy(mode: mode, layers: layers, version: UInt64(set))
            #expect(chained.rules == rules)
            for _ in 0..<20 {
                let t = g.target()
                let resolved = (0..<g.int(4)).map { _ in g.address() }
                let f = flat.evaluate(t, resolved: resolved), c = chained.evaluate(t, resolved: resolved)
                guard f.decision == c.decision, f.permitted == c.permitted, f.decision == c.decision,
                      flat.decide(t) == chained.decide(t) else {
                    Issue.record("set \(set): \(t) flat \(f.decision.basis) chained \(c.decision.basis) (\(layers.count) layers)")
                    return
                }
            }
        }
    }
}
