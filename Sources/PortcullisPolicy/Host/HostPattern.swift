/// What a rule's `host` field names, after normalisation.
public enum HostPattern: Hashable, Sendable, CustomStringConvertible {
    /// `api.openai.com`: that name only.
    case exact(DomainName)
    /// `*.openai.com` (stored as `openai.com`): any name one or more labels below, never the apex.
    case wildcard(DomainName)
    /// `1.2.3.4`, `2001:db8::1`.
    case address(IPAddress)
    /// `10.0.0.0/8`, `2001:db8::/32`.
    case network(IPNetwork)

    /// The canonical text, as the API writes it back.
    public var description: String {
        switch self {
        case .exact(let n): return n.text
        case .wildcard(let n): return "*." + n.text
        case .address(let a): return a.description
        case .network(let n): return n.description
        }
    }

    /// True for exact and wildcard patterns.
    public var isName: Bool {
        switch self {
        case .exact, .wildcard: return true
        case .address, .network: return false
        }
    }

    /// Whether this pattern covers a target host (names meet name patterns, addresses meet
    /// address patterns; a wildcard never covers its apex). The gateway's host has two names
    /// (`GatewayHost`): an exact pattern for either covers both.
    public func covers(_ host: TargetHost) -> Bool {
        switch (self, host) {
        case (.exact(let p), .name(let n)): return p == n || (GatewayHost.contains(p) && GatewayHost.contains(n))
        case (.wildcard(let p), .name(let n)): return n.isStrictSubdomain(of: p)
        case (.address(let p), .address(let a)): return p == a
        case (.network(let p), .address(let a)): return p.contains(a)
        case (.exact, .address), (.wildcard, .address), (.address, .name), (.network, .name): return false
        }
    }

    /// Whether every host this pattern covers is also covered by `other` (used to check
    /// that a deny rule's `except` entries lie inside the rule).
    public func isWithin(_ other: HostPattern) -> Bool {
        switch (self, other) {
        case (.exact(let n), _): return other.covers(.name(n))
        case (.wildcard(let n), .wildcard(let o)): return n.isSubdomain(of: o)
        case (.wildcard, _): return false
        case (.address(let a), _): return other.covers(.address(a))
        case (.network(let n), .network(let o)):
            return n.prefixLength >= o.prefixLength && o.contains(n.address)
        case (.network, _): return false
        }
    }
}

/// The host a client asked for: a name, or an IP literal (every IPv4 spelling a resolver
/// accepts is an IP literal, never a name).
public enum TargetHost: Hashable, Sendable, CustomStringConvertible {
    case name(DomainName)
    case address(IPAddress)

    public var description: String {
        switch self {
        case .name(let n): return n.text
        case .address(let a): return a.description
        }
    }
}
