/// How specific a rule's host pattern is, for "the most specific matching allow rule
/// decides" (POLICY-MODEL.md): exact beats wildcard, a longer wildcard suffix beats a
/// shorter one, a longer CIDR prefix beats a shorter one; then a rule with a port beats
/// one without. Larger is more specific.
public struct RuleRank: Hashable, Comparable, Sendable {
    public let host: Int
    public let hasPort: Bool

    public init(_ rule: Rule) {
        switch rule.host {
        case .exact: host = 1000
        case .wildcard(let n): host = n.labels.count
        case .address(let a): host = Int(a.bitWidth)
        case .network(let n): host = Int(n.prefixLength)
        }
        hasPort = rule.port != nil
    }

    public static func < (lhs: RuleRank, rhs: RuleRank) -> Bool {
        if lhs.host != rhs.host { return lhs.host < rhs.host }
        return !lhs.hasPort && rhs.hasPort
    }
}
