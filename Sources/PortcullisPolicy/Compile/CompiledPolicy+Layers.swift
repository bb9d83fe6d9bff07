extension CompiledPolicy {
    /// The rule a reference names.
    @inline(__always)
    func rule(_ ref: Int32) -> Rule { layers[RuleRef.layer(ref)].rules[RuleRef.index(ref)] }

    /// Calls `body` for each level of the lookup of `target`'s host, most specific first,
    /// with a function giving each layer's lists at that level (nil where it has none),
    /// until `body` returns false. Names walk their suffixes; addresses their prefix
    /// lengths across every layer, longest first.
    @inline(__always)
    func forEachLevel(of host: TargetHost, _ body: (_ lists: (Int) -> LevelLists?) -> Bool) {
        switch host {
        case .name(let name):
            let text = Substring(name.text)
            if !body({ l in layers[l].names.entry(text).map { LevelLists(deny: $0.exactDeny, allow: $0.exactAllow) } }) { return }
            var index = text.startIndex
            let utf8 = text.utf8
            while let dot = utf8[index...].firstIndex(of: UInt8(ascii: ".")) {
                let suffix = text[utf8.index(after: dot)...]
                if !body({ l in layers[l].names.entry(suffix).map { LevelLists(deny: $0.wildcardDeny, allow: $0.wildcardAllow) } }) {
                    return
                }
                index = utf8.index(after: dot)
            }
        case .address(.v4(let a)):
            for length in v4Lengths {
                if !body({ l in layers[l].v4.entry(length: length, a.value).map { LevelLists(deny: $0.deny, allow: $0.allow) } }) { return }
            }
        case .address(.v6(let a)):
            for length in v6Lengths {
                if !body({ l in layers[l].v6.entry(length: length, a.value).map { LevelLists(deny: $0.deny, allow: $0.allow) } }) { return }
            }
        }
    }

    /// The first deny rule of one level that covers the target, in merged order: rules
    /// with a port first (layer by layer), then rules without.
    @inline(__always)
    func firstDeny(_ lists: (Int) -> LevelLists?, host: TargetHost, port: UInt16?, transport: TransportProtocol?) -> Int32? {
        for pass in 0..<2 {
            let withPort = pass == 0
            for l in layers.indices {
                guard let list = lists(l)?.deny else { continue }
                let rules = layers[l].rules
                for i in list {
                    let r = rules[Int(i)]
                    if (r.port != nil) != withPort {
                        if withPort { break } else { continue }
                    }
                    if r.coversPortAndProtocol(port: port, transport: transport), !r.excepts(host) {
                        return RuleRef.make(layer: l, index: i)
                    }
                }
            }
        }
        return nil
    }

    /// The deciding allow rule of one level: the rules of its most specific tier (with a
    /// port, else without) that cover the target; of those, the first whose methods/paths
    /// cover the request, preferring one that is not warn-only; if none does, the tier's
    /// first rule decides as an endpoint mismatch.
    @inline(__always)
    func bestAllow(_ lists: (Int) -> LevelLists?, _ target: Target) -> NameMatch {
        for pass in 0..<2 {
            let withPort = pass == 0
            var firstInTier: Int32?
            var warnCandidate: Int32?
            for l in layers.indices {
                guard let list = lists(l)?.allow else { continue }
                let rules = layers[l].rules
                for i in list {
                    let r = rules[Int(i)]
                    if (r.port != nil) != withPort {
                        if withPort { break } else { continue }
                    }
                    guard r.coversPortAndProtocol(port: target.port, transport: target.transport) else { continue }
                    let ref = RuleRef.make(layer: l, index: i)
                    if firstInTier == nil { firstInTier = ref }
                    if r.coversEndpoint(target.request) {
                        if !r.warnOnly { return .allowed(ref) }
                        if warnCandidate == nil { warnCandidate = ref }
                    }
                }
            }
            if let w = warnCandidate { return .allowed(w) }
            if let f = firstInTier { return .endpointMismatch(f) }
        }
        return .none
    }

    /// Prefix lengths present in any layer, longest first.
    /// Most chains have at most one layer with IP rules: then its own list is shared as is.
    static func lengths<Key>(_ indexes: [PrefixIndex<Key>]) -> [Int] {
        var found: [Int]?
        var merged: Set<Int>?
        for index in indexes where !index.isEmpty {
            if let f = found {
                merged = (merged ?? Set(f)).union(index.lengths)
            } else {
                found = index.lengths
            }
        }
        if let merged { return merged.sorted(by: >) }
        return found ?? []
    }
}
