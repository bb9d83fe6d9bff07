/// The addresses of one run: a /30 with the host end of the veth on its first usable
/// address and the sandbox end on the second.
public struct Lease: Hashable, Sendable {
    public let subnet: IPv4Block
    public var hostAddress: UInt32 { subnet.base + 1 }
    public var sandboxAddress: UInt32 { subnet.base + 2 }
    public var hostText: String { IPv4Block.format(hostAddress) }
    public var sandboxText: String { IPv4Block.format(sandboxAddress) }

    public init(subnet: IPv4Block) { self.subnet = subnet }
}

/// Picks the pool and a free /30 inside it. Pure: the host's addresses and routes are
/// passed in (see `HostNetwork`).
public enum AddressPool {
    /// RFC 6598 shared address space; the default pool is a /16 inside it.
    public static let sharedSpace = IPv4Block(base: 0x6440_0000, prefixLength: 10)
    /// The size of each run's subnet.
    public static let leasePrefix = 30
    /// Where the search for a default pool starts (100.100.0.0/16 is skipped over only
    /// when the host uses it; the search then wraps round the whole of 100.64.0.0/10).
    static let preferredStart: UInt32 = 0x6478_0000 // 100.120.0.0

    /// Why a pool given with `--pool` is refused.
    public static func validate(_ pool: IPv4Block) -> String? {
        if pool.prefixLength > leasePrefix { return "--pool must be a /\(leasePrefix) or larger, not \(pool)" }
        if pool.prefixLength < 8 { return "--pool must be a /8 or smaller, not \(pool)" }
        for reserved in ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3"] {
            if let r = IPv4Block(reserved), r.overlaps(pool) { return "--pool \(pool) overlaps the reserved range \(r)" }
        }
        return nil
    }

    /// The default pool: the first /16 of 100.64.0.0/10 (searching from 100.120.0.0/16
    /// and wrapping round) that overlaps none of `foreign` — the host's addresses and
    /// routes other than the runner's own links.
    public static func defaultPool(avoiding foreign: [IPv4Block]) -> IPv4Block? {
        let count = UInt32(sharedSpace.size >> 16)
        let startIndex = (preferredStart - sharedSpace.base) >> 16
        for step in 0..<count {
            let index = (startIndex + step) % count
            let candidate = IPv4Block(base: sharedSpace.base + index << 16, prefixLength: 16)
            if !foreign.contains(where: { $0.prefixLength > 0 && $0.overlaps(candidate) }) { return candidate }
        }
        return nil
    }

    /// The first /30 of `pool` that overlaps none of `used` (default routes, /0, are
    /// ignored: every address overlaps them). Nil when the pool is full.
    public static func allocate(in pool: IPv4Block, avoiding used: [IPv4Block]) -> Lease? {
        let blocking = used.filter { $0.prefixLength > 0 && $0.overlaps(pool) }.sorted { $0.base < $1.base }
        let step = UInt64(1) << UInt64(32 - leasePrefix)
        var next = UInt64(pool.base)
        let end = UInt64(pool.last)
        while next + step - 1 <= end {
            let candidate = IPv4Block(base: UInt32(next), prefixLength: leasePrefix)
            if let hit = blocking.first(where: { $0.overlaps(candidate) }) {
                // Jump past the blocking range, to the next /30 boundary.
                let after = UInt64(hit.last) + 1
                next = (after + step - 1) / step * step
                continue
            }
            return Lease(subnet: candidate)
        }
        return nil
    }
}
