/// One list of rules compiled into hash indexes: a sandbox's own rules, one profile, or a
/// tenant's tenant-wide rules. Immutable and shared: a tenant's layer is compiled once and
/// every sandbox of the tenant points at it, so a tenant-wide change compiles one layer,
/// not one policy per sandbox.
public final class RuleLayer: Sendable {
    /// The rules in policy order; a rule's index here identifies it within the layer.
    public let rules: [Rule]
    let names: NameIndex
    let v4: PrefixIndex<UInt32>
    let v6: PrefixIndex<UInt128>

    public init(rules: [Rule]) {
        self.rules = rules
        self.names = NameIndex(rules: rules)
        var v4Items: [(key: UInt32, length: Int, index: Int32, isAllow: Bool, hasPort: Bool)] = []
        var v6Items: [(key: UInt128, length: Int, index: Int32, isAllow: Bool, hasPort: Bool)] = []
        for (index, rule) in rules.enumerated() {
            let network: IPNetwork
            switch rule.host {
            case .address(let a): network = IPNetwork(masking: a, prefixLength: a.bitWidth)
            case .network(let n): network = n
            case .exact, .wildcard: continue
            }
            let isAllow = rule.action == .allow, hasPort = rule.port != nil
            switch network.address {
            case .v4(let a): v4Items.append((a.value, Int(network.prefixLength), Int32(index), isAllow, hasPort))
            case .v6(let a): v6Items.append((a.value, Int(network.prefixLength), Int32(index), isAllow, hasPort))
            }
        }
        self.v4 = PrefixIndex(v4Items)
        self.v6 = PrefixIndex(v6Items)
    }

    /// The most rules one layer may hold (a rule reference keeps the layer in its top byte).
    static let maximumRules = 1 << 24
    /// The most layers one policy may chain; more are merged into one.
    static let maximumLayers = 64
}

/// A rule's place in a chain of layers, packed in 32 bits: layer in the top byte.
enum RuleRef {
    @inline(__always) static func make(layer: Int, index: Int32) -> Int32 { Int32(layer) << 24 | index }
    @inline(__always) static func layer(_ ref: Int32) -> Int { Int(ref >> 24) }
    @inline(__always) static func index(_ ref: Int32) -> Int { Int(ref & 0xFF_FFFF) }
}

/// The deny and allow rule lists of one layer at one level of a lookup (a name suffix or a
/// prefix length), best first: rules with a port before rules without, then policy order.
struct LevelLists {
    let deny: [Int32]
    let allow: [Int32]
}
