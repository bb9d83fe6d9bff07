/// An IPv4 network in CIDR form (`100.64.0.0/10`), with the host bits cleared.
///
/// The runner only hands out IPv4: the sandbox side has no IPv6 at all (it is disabled
/// inside the namespace and dropped on the host side).
public struct IPv4Block: Hashable, Sendable, CustomStringConvertible {
    /// The first address, as a 32-bit number.
    public let base: UInt32
    /// The prefix length, 0–32.
    public let prefixLength: Int

    /// A block from an address and a prefix length; host bits are cleared.
    public init(base: UInt32, prefixLength: Int) {
        precondition((0...32).contains(prefixLength), "prefix length out of range")
        self.prefixLength = prefixLength
        self.base = base & IPv4Block.mask(prefixLength)
    }

    /// Parses `a.b.c.d/n` (or a bare address, which is a /32). Nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPv4Block.parseAddress(String(parts[0])) else { return nil }
        var length = 32
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 2, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int(parts[1]), (0...32).contains(n) else { return nil }
            length = n
        }
        self.init(base: address, prefixLength: length)
    }

    public static func mask(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    /// The last address of the block.
    public var last: UInt32 { base | ~IPv4Block.mask(prefixLength) }

    /// The number of addresses (as UInt64: a /0 holds 2^32).
    public var size: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }

    public func contains(_ address: UInt32) -> Bool { address & IPv4Block.mask(prefixLength) == base }

    public func overlaps(_ other: IPv4Block) -> Bool { base <= other.last && other.base <= last }

    public var description: String { "\(IPv4Block.format(base))/\(prefixLength)" }

    /// Dotted-quad text to a number: four decimal parts 0–255, no leading zeros.
    public static func parseAddress(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part.count == 1 || part.first != "0", let n = UInt32(part), n <= 255 else { return nil }
            value = value << 8 | n
        }
        return value
    }

    /// A number to dotted-quad text.
    public static func format(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }
}
