import Foundation

/// What the host's namespace holds, read from `ip -j` and `nft -j` output. Parsing is
/// pure (tested on captured text); `HostExecutor.observe()` fetches the text.
public struct HostNetwork: Hashable, Sendable {
    /// An IPv4 block in use, and the link it is on (nil for routes without a device).
    public struct Use: Hashable, Sendable {
        public let block: IPv4Block
        public let link: String?

        public init(block: IPv4Block, link: String?) {
            self.block = block
            self.link = link
        }
    }

    public var uses: [Use] = []
    public var links: [String] = []
    public var namespaces: [String] = []
    /// `inet` tables only (the runner makes no other family).
    public var inetTables: [String] = []

    public init() {}

    /// Blocks in use anywhere (for the lease: nothing may overlap).
    public var used: [IPv4Block] { uses.map(\.block) }

    /// Blocks in use on links that are not the runner's (for choosing the default pool).
    public var foreign: [IPv4Block] {
        uses.filter { use in use.link.map { RunNames.suffix(ofLink: $0) == nil } ?? true }.map(\.block)
    }

    static func array(_ text: String) -> [[String: Any]] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, let data = trimmed.data(using: .utf8),
              let value = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return value
    }

    /// `ip -j addr`: every IPv4 address with its prefix, on its link; also fills `links`.
    public mutating func parseAddresses(_ text: String) {
        for link in HostNetwork.array(text) {
            let name = link["ifname"] as? String
            if let name { links.append(name) }
            for info in link["addr_info"] as? [[String: Any]] ?? [] {
                guard info["family"] as? String == "inet", let local = info["local"] as? String,
                      let length = info["prefixlen"] as? Int, let block = IPv4Block("\(local)/\(length)") else { continue }
                uses.append(Use(block: block, link: name))
                // The address itself, too (a /32 inside a peer-to-peer /32 route, for instance).
                if let single = IPv4Block(local) { uses.append(Use(block: single, link: name)) }
            }
        }
    }

    /// `ip -j route`: every IPv4 destination other than `default`.
    public mutating func parseRoutes(_ text: String) {
        for route in HostNetwork.array(text) {
            guard let dst = route["dst"] as? String, dst != "default", let block = IPv4Block(dst) else { continue }
            uses.append(Use(block: block, link: route["dev"] as? String))
        }
    }

    /// `ip -j netns list` (prints nothing at all when there is none).
    public mutating func parseNamespaces(_ text: String) {
        namespaces = HostNetwork.array(text).compactMap { $0["name"] as? String }
    }

    /// `nft -j list tables`.
    public mutating func parseTables(_ text: String) {
        guard let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let items = object["nftables"] as? [[String: Any]] else { return }
        inetTables = items.compactMap { item in
            guard let table = item["table"] as? [String: Any], table["family"] as? String == "inet" else { return nil }
            return table["name"] as? String
        }
    }

    /// Suffixes of every runner-made namespace, link or table present.
    public var runnerSuffixes: Set<String> {
        var out = Set<String>()
        for n in namespaces { if let s = RunNames.suffix(ofNamespace: n) { out.insert(s) } }
        for l in links { if let s = RunNames.suffix(ofLink: l) { out.insert(s) } }
        for t in inetTables { if let s = RunNames.suffix(ofTable: t) { out.insert(s) } }
        return out
    }
}
