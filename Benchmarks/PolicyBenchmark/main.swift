// The policy engine's benchmark: decisions per second and memory for 10, 1,000 and
// 100,000 rules, compiled vs the naive reference evaluator, compile time, parsing the
// Public Suffix List, and the tenant-wide change curve.
//
//   swift run -c release --package-path Benchmarks portcullis-policy-bench
//
// Goals (issue 2): at 100,000 rules a decision costs at most 2x what it costs at 10 rules
// and at least 100x less than the naive scan; compiling 100,000 rules takes under 1 s.
import Foundation
import PortcullisPolicy

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb * 1024
}

/// Rules shaped like real policies: 70% exact names, 20% wildcards, 10% IPv4 CIDRs, a
/// fifth of them with a port, a tenth of them deny rules.
func makeRules(_ count: Int, rng: inout SplitMix64) -> [Rule] {
    (0..<count).map { i in
        let kind = Int.random(in: 0..<10, using: &rng)
        let domain = "d\(Int.random(in: 0..<max(1, count / 4), using: &rng)).example\(i % 7).com"
        let host: HostPattern
        switch kind {
        case 0..<7: host = .exact(DomainName(canonical: "h\(i).\(domain)"))
        case 7..<9: host = .wildcard(DomainName(canonical: domain))
        default:
            let a = UInt32.random(in: 0...UInt32.max, using: &rng)
            let len = UInt8.random(in: 8...32, using: &rng)
            host = .network(IPNetwork(masking: .v4(IPv4Address(a)), prefixLength: len))
        }
        let port: UInt16? = Int.random(in: 0..<5, using: &rng) == 0 ? 443 : nil
        let action: RuleAction = Int.random(in: 0..<10, using: &rng) == 0 ? .deny : .allow
        return Rule(id: "rul_\(i)", action: action, host: host, port: port)
    }
}

/// Targets: a third hit an exact rule, a third fall under a wildcard, a third match nothing.
func makeTargets(for rules: [Rule], rng: inout SplitMix64) -> [Target] {
    (0..<1024).map { i in
        let rule = rules[Int.random(in: 0..<rules.count, using: &rng)]
        let name: String
        switch (i % 3, rule.host) {
        case (0, .exact(let n)): name = n.text
        case (1, .wildcard(let n)): name = "api.\(n.text)"
        case (0, _), (1, _): name = "www.d\(i).example\(i % 7).com"
        default: name = "unknown\(i).nowhere.test"
        }
        return Target(host: .name(DomainName(canonical: name)), port: 443)
    }
}

func measure(seconds: Double, _ body: () -> Int) -> Double {
    let clock = ContinuousClock()
    var total = 0
    let start = clock.now
    let limit = Duration.milliseconds(Int64(seconds * 1000))
    while clock.now - start < limit { total += body() }
    let elapsed = clock.now - start
    let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    return ns / Double(total)
}

nonisolated(unsafe) var sink = 0
func decideAll(_ policy: CompiledPolicy, _ targets: [Target]) -> Int {
    for t in targets where policy.decide(t).verdict == .reject { sink &+= 1 }
    return targets.count
}

// First, before anything else touches it: the Public Suffix List's parse on first use.
let publicSuffixFirstUseMs = PublicSuffixParse.firstUse()

let sizes = [10, 1_000, 100_000]
var rows: [[String]] = []
var compiledCost: [Int: Double] = [:]
var naiveCost: [Int: Double] = [:]
var compileMs: [Int: Double] = [:]
for size in sizes {
    var rng = SplitMix64(state: UInt64(size))
    let rules = makeRules(size, rng: &rng)
    let targets = makeTargets(for: rules, rng: &rng)
    let before = residentBytes()
    let clock = ContinuousClock()
    let start = clock.now
    let compiled = CompiledPolicy(mode: .allowlist, rules: rules, version: 1)
    let compileTime = clock.now - start
    let memory = residentBytes() - before
    compileMs[size] = Double(compileTime.components.attoseconds) / 1e15 + Double(compileTime.components.seconds) * 1000
    let naive = ReferenceEvaluator(mode: .allowlist, rules: rules, version: 1)
    // The two must agree on every benchmark target.
    for t in targets where compiled.decide(t) != naive.decide(t) {
        fatalError("compiled and naive disagree on \(t.host)")
    }
    compiledCost[size] = measure(seconds: 1.0) { decideAll(compiled, targets) }
    let naiveTargets = Array(targets.prefix(size >= 100_000 ? 32 : 1024))
    naiveCost[size] = measure(seconds: 1.0) {
        for t in naiveTargets where naive.decide(t).verdict == .reject { sink &+= 1 }
        return naiveTargets.count
    }
    rows.append([
        "\(size)",
        String(format: "%.1f", compileMs[size]!),
        String(format: "%.1f", Double(max(memory, 0)) / 1_048_576),
        String(format: "%.0f", compiledCost[size]!),
        String(format: "%.2fM", 1e3 / compiledCost[size]!),
        String(format: "%.0f", naiveCost[size]!),
        String(format: "%.0fx", naiveCost[size]! / compiledCost[size]!),
    ])
}

let header = ["rules", "compile ms", "RSS MiB", "compiled ns/decision", "compiled decisions/s", "naive ns/decision", "naive/compiled"]
var widths = header.map(\.count)
for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
func line(_ cells: [String], _ widths: [Int]) -> String {
    cells.enumerated().map { i, c in String(repeating: " ", count: widths[i] - c.count) + c }.joined(separator: "  ")
}
print(line(header, widths))
for row in rows { print(line(row, widths)) }
let ratio = compiledCost[100_000]! / compiledCost[10]!
print("")
print(String(format: "cost at 100,000 rules / cost at 10 rules: %.2fx (goal <= 2x)", ratio))
print(String(format: "naive / compiled at 100,000 rules: %.0fx (goal >= 100x)", naiveCost[100_000]! / compiledCost[100_000]!))
print(String(format: "compile 100,000 rules: %.0f ms (goal < 1000 ms)", compileMs[100_000]!))
PublicSuffixParse.report(firstUseMs: publicSuffixFirstUseMs)
tenantChangeCurve()
if sink == -1 { print(sink) }
