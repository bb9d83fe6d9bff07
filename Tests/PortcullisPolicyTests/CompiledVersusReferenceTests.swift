@testable import PortcullisPolicy
import Testing

/// A property test: the compiled policy decides exactly as the naive reference evaluator
/// (a linear scan written from the spec) on thousands of random rule sets and targets.
/// The universe of names and addresses is small so that rules overlap often.
@Suite("Compiled policy versus the reference evaluator")
struct CompiledVersusReferenceTests {
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func bool(_ percent: Int = 50) -> Bool { int(100) < percent }
        mutating func pick<T>(_ items: [T]) -> T { items[int(items.count)] }

        static let labels = ["a", "b", "api", "www", "cdn"]
        static let tlds = ["com", "test"]

        mutating func name(maxDepth: Int = 4) -> String {
            var parts = [pick(Self.tlds)]
            for _ in 0..<(1 + int(maxDepth)) { parts.insert(pick(Self.labels), at: 0) }
            return parts.joined(separator: ".")
        }

        static let v4Seeds: [UInt32] = [0x0A00_0001, 0x0A01_0203, 0x5DB8_D822, 0x5DB8_0001, 0xA9FE_A9FE, 0x7F00_0001, 0x08080808, 0xB9DC_6504]
        static let v6Seeds: [UInt128] = [1, UInt128(0x2606_4700) << 96 | 0x1111, UInt128(0xFE80) << 112 | 1, UInt128(0x2606_4700) << 96 | 0x2222]

        mutating func address() -> IPAddress {
            if bool(75) {
                let seed = pick(Self.v4Seeds)
                return .v4(IPv4Address(bool() ? seed : seed ^ UInt32(int(256))))
            }
            let seed = pick(Self.v6Seeds)
            return .v6(IPv6Address(bool() ? seed : seed ^ UInt128(int(65536))))
        }

        mutating func pattern() -> HostPattern {
            switch int(4) {
            case 0: return .exact(DomainName(canonical: name()))
            case 1: return .wildcard(DomainName(canonical: name(maxDepth: 2)))
            case 2: return .address(address())
            default:
                let a = address()
                return .network(IPNetwork(masking: a, prefixLength: UInt8(int(Int(a.bitWidth) + 1))))
            }
        }

        mutating func rule(_ index: Int) -> Rule {
            let action: RuleAction = bool(35) ? .deny : .allow
            let host = pattern()
            var except: [HostPattern] = []
            if action == .deny, bool(20) { except = [pattern(), pattern()].filter { $0.isWithin(host) } }
            let methods: [String]? = action == .allow && bool(20) ? [pick(["GET", "POST"])] : nil
            let paths: [PathPattern]? = action == .allow && bool(15) ? [pick([PathPattern(kind: .prefix, base: "/v1"), PathPattern(kind: .exact, base: "/a")])] : nil
            return Rule(id: "rul_\(index)", action: action, host: host, port: bool(40) ? pick([80, 443]) : nil,
                        transport: pick([.any, .any, .tcp, .udp]), methods: methods, paths: paths,
                        warnOnly: action == .allow && bool(20), except: except,
                        source: pick([.local, .tenant, .profile("p")]))
        }

        mutating func target() -> Target {
            let host: TargetHost = bool(65) ? .name(DomainName(canonical: name())) : .address(address())
            let visibility: RequestVisibility
            switch int(3) {
            case 0: visibility = .opaque
            case 1: visibility = .visible(RequestLine(method: pick(["GET", "POST", "PUT"]), path: pick(["/", "/v1/x", "/a", "/v1"])))
            default: visibility = .notApplicable
            }
            let dns = bool(15)
            return Target(host: host, port: dns ? nil : pick([80, 443, 8080]), transport: dns ? nil : pick([.tcp, .udp]),
                          request: dns ? .notApplicable : visibility)
        }
    }

    @Test("compiled and reference agree on random rule sets, targets and resolved addresses", arguments: [1, 2, 3, 4])
    func agree(seedBase: UInt64) {
        var g = Generator(state: 0xC0FFEE &* seedBase)
        var compared = 0
        for set in 0..<750 {
            let rules = (0..<(1 + g.int(24))).map { g.rule($0) }
            let mode = g.pick(Mode.allCases)
            let exemptions: [IPNetwork] = g.bool(20) ? [IPNetwork(masking: .v4(IPv4Address(0x0A00_0000)), prefixLength: 8)] : []
            let addressGuard = AddressGuard(exemptions: exemptions)
            let compiled = CompiledPolicy(mode: mode, rules: rules, version: UInt64(set), addressGuard: addressGuard)
            let reference = ReferenceEvaluator(mode: mode, rules: rules, version: UInt64(set), addressGuard: addressGuard)
            for _ in 0..<20 {
                let t = g.target()
                let c = compiled.decide(t), r = reference.decide(t)
                if c != r {
                    Issue.record("set \(set) seed \(seedBase) mode \(mode): \(t) compiled \(c.verdict) \(c.basis) reference \(r.verdict) \(r.basis)\nrules: \(rules.map { "\($0.id) \($0.action) \($0.host) port \($0.port.map(String.init) ?? "-") \($0.transport) w\($0.warnOnly) m\($0.methods ?? []) p\(($0.paths ?? []).map(\.description)) except \($0.except)" })")
                    return
                }
                let resolved = (0..<g.int(4)).map { _ in g.address() }
                let cs = compiled.evaluate(t, resolved: resolved), rs = reference.evaluate(t, resolved: resolved)
                if cs.decision != rs.decision || cs.permitted != rs.permitted {
                    Issue.record("set \(set) seed \(seedBase) mode \(mode): \(t) resolved \(resolved): compiled \(cs.decision.basis) \(cs.permitted) reference \(rs.decision.basis) \(rs.permitted)")
                    return
                }
                compared += 1
            }
        }
        #expect(compared == 750 * 20)
    }
}
