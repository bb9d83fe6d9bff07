/// An IPv4 address, held as a 32-bit number in host order (`127.0.0.1` is `0x7F00_0001`).
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Dotted-quad text, the one spelling Portcullis writes.
    public var description: String {
        "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv6 address, held as a 128-bit number (`::1` is `1`).
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var value: UInt128

    public init(_ value: UInt128) { self.value = value }

    /// RFC 5952 text: lower case, longest run of zero groups compressed.
    public var description: String { IPv6Text.format(value) }

    /// The IPv4 address this one maps (`::ffff:a.b.c.d`), if it is IPv4-mapped.
    public var ipv4Mapped: IPv4Address? {
        (value >> 32) == 0xFFFF ? IPv4Address(UInt32(truncatingIfNeeded: value)) : nil
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool { lhs.value < rhs.value }
}

/// An IP address of either family. IPv4-mapped IPv6 addresses are always stored as IPv4,
/// so one address has one value whatever spelling it arrived in.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Folds IPv4-mapped IPv6 into IPv4.
    public static func canonical(_ v6: IPv6Address) -> IPAddress {
        if let v4 = v6.ipv4Mapped { return .v4(v4) }
        return .v6(v6)
    }

    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return a.description
        }
    }

    /// Number of bits in an address of this family (32 or 128).
    public var bitWidth: UInt8 {
        switch self {
        case .v4: return 32
        case .v6: return 128
        }
    }
}
