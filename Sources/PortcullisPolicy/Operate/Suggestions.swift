/// One host seen in the window, with what to do about it.
public struct Suggestion: Hashable, Sendable {
    public let host: String
    public let ports: [UInt16]
    public let count: Int
    public let recommendation: Recommendation
    public let reason: String
}

/// A wildcard that would cover many subdomains of one registrable domain.
public struct WildcardProposal: Hashable, Sendable {
    public let pattern: String
    public let covers: [String]
    public let count: Int
}

/// The answer to `suggestions(since)`.
public struct SuggestionReport: Hashable, Sendable {
    public let items: [Suggestion]
    public let wildcards: [WildcardProposal]

    /// The hosts `lockdown from_suggestions` allows: every suggested host except those
    /// recommended `deny`.
    public var hostsToAllow: [String] { items.filter { $0.recommendation != .deny }.map(\.host) }
}

/// Suggestions as a pure function of what the audit log holds for the window.
public enum Suggestions {
    /// How many distinct subdomains of one registrable domain earn a wildcard proposal.
    public static let wildcardThreshold = 3

    /// One row of input: a host (canonical, as logged), a port, and how many attempts.
    public struct Tally: Hashable, Sendable {
        public let host: String
        public let port: UInt16?
        public let count: Int
        public init(host: String, port: UInt16?, count: Int) {
            self.host = host
            self.port = port
            self.count = count
        }
    }

    /// Hosts contacted, most used first (ties by name), each with a recommendation, and
    /// wildcard proposals for registrable domains with three or more subdomains seen.
    public static func compute(_ tallies: [Tally], catalogue: RecommendationCatalogue = .shipped,
                               suffixes: PublicSuffixList = .shipped) -> SuggestionReport {
        var counts: [String: Int] = [:]
        var ports: [String: Set<UInt16>] = [:]
        for t in tallies where t.count > 0 {
            // Only a host a rule can name exactly: what a sandbox asked for that is no host
            // (a CIDR or a wildcard spelled as a SOCKS5 domain, `/`, markup) is logged, but
            // never suggested — lockdown would make a rule of it.
            guard let target = try? HostParser.parseTarget(t.host) else { continue }
            let host = target.description
            counts[host, default: 0] += t.count
            if let p = t.port { ports[host, default: []].insert(p) } else { ports[host, default: []] = ports[host] ?? [] }
        }
        let items = counts.map { host, count in
            let (recommendation, reason) = catalogue.recommend(host)
            return Suggestion(host: host, ports: (ports[host] ?? []).sorted(), count: count,
                              recommendation: recommendation, reason: reason)
        }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.host < $1.host }

        var byDomain: [DomainName: [Suggestion]] = [:]
        for item in items where item.recommendation != .deny {
            guard case .name(let name)? = try? HostParser.parseTarget(item.host),
                  let registrable = suffixes.registrableDomain(of: name), name != registrable else { continue }
            byDomain[registrable, default: []].append(item)
        }
        let wildcards = byDomain.compactMap { domain, members -> WildcardProposal? in
            guard members.count >= wildcardThreshold else { return nil }
            return WildcardProposal(pattern: "*." + domain.text, covers: members.map(\.host).sorted(),
                                    count: members.reduce(0) { $0 + $1.count })
        }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.pattern < $1.pattern }
        return SuggestionReport(items: items, wildcards: wildcards)
    }

    /// Tallies a sequence of audit records (host, port) in a window, for callers that hold
    /// raw records rather than grouped counts.
    public static func tally<S: Sequence>(_ records: S, since: Timestamp, until: Timestamp? = nil) -> [Tally]
    where S.Element == (host: String, port: UInt16?, time: Timestamp) {
        var counts: [HostPort: Int] = [:]
        for r in records where r.time >= since && (until.map { r.time <= $0 } ?? true) {
            counts[HostPort(host: r.host, port: r.port), default: 0] += 1
        }
        return counts.map { Tally(host: $0.key.host, port: $0.key.port, count: $0.value) }
    }

    struct HostPort: Hashable {
        let host: String
        let port: UInt16?
    }
}
