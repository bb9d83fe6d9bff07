/// Exact and wildcard name rules, keyed by the name they hang from: the "reversed-label
/// trie" flattened into one hash table of suffixes. A target `a.b.example.com` is looked up
/// once per label boundary (`a.b.example.com`, `b.example.com`, `example.com`, `com`) by
/// `CompiledPolicy.forEachLevel`, so a decision costs the same with 10 rules or 100,000.
///
/// Keys are `Substring`s so that looking up a suffix of the target allocates nothing.
struct NameIndex: Sendable {
    struct Entry: Sendable {
        /// Rule indices, best first: rules with a port before rules without, then policy order.
        var exactAllow: [Int32] = []
        var exactDeny: [Int32] = []
        var wildcardAllow: [Int32] = []
        var wildcardDeny: [Int32] = []
    }

    private(set) var entries: [Substring: Entry] = [:]

    init(rules: [Rule]) {
        var entries: [Substring: Entry] = [:]
        for (index, rule) in rules.enumerated() {
            let i = Int32(index)
            switch (rule.host, rule.action) {
            case (.exact(let n), .allow) where GatewayHost.contains(n):
                // The gateway's host is one host with two names: the rule hangs from both.
                for name in GatewayHost.names { entries[Substring(name.text), default: Entry()].exactAllow.append(i) }
            case (.exact(let n), .deny) where GatewayHost.contains(n):
                for name in GatewayHost.names { entries[Substring(name.text), default: Entry()].exactDeny.append(i) }
            case (.exact(let n), .allow): entries[Substring(n.text), default: Entry()].exactAllow.append(i)
            case (.exact(let n), .deny): entries[Substring(n.text), default: Entry()].exactDeny.append(i)
            case (.wildcard(let n), .allow): entries[Substring(n.text), default: Entry()].wildcardAllow.append(i)
            case (.wildcard(let n), .deny): entries[Substring(n.text), default: Entry()].wildcardDeny.append(i)
            case (.address, _), (.network, _): continue
            }
        }
        func order(_ list: inout [Int32]) {
            guard list.count > 1 else { return }
            list.sort { a, b in
                let pa = rules[Int(a)].port != nil, pb = rules[Int(b)].port != nil
                return pa != pb ? pa : a < b
            }
        }
        for key in entries.keys {
            order(&entries[key]!.exactAllow)
            order(&entries[key]!.exactDeny)
            order(&entries[key]!.wildcardAllow)
            order(&entries[key]!.wildcardDeny)
        }
        self.entries = entries
    }

    /// The rules hanging from exactly `key`.
    @inline(__always)
    func entry(_ key: Substring) -> Entry? { entries.isEmpty ? nil : entries[key] }

    var isEmpty: Bool { entries.isEmpty }
}
