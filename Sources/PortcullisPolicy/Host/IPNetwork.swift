/// A CIDR block. The address never has host bits set (the parser refuses such input).
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: UInt8

    /// Creates a network, masking host bits off `address`.
    public init(masking address: IPAddress, prefixLength: UInt8) {
        precondition(prefixLength <= address.bitWidth, "prefix longer than the address")
        self.prefixLength = prefixLength
        switch address {
        case .v4(let a): self.address = .v4(IPv4Address(a.value & IPNetwork.mask32(prefixLength)))
        case .v6(let a): self.address = .v6(IPv6Address(a.value & IPNetwork.mask128(prefixLength)))
        }
    }

    public func contains(_ other: IPAddress) -> Bool {
        switch (address, other) {
        case (.v4(let net), .v4(let a)): return a.value & IPNetwork.mask32(prefixLength) == net.value
        case (.v6(let net), .v6(let a)): return a.value & IPNetwork.mask128(prefixLength) == net.value
        default: return false
        }
    }

    public var description: String { "\(address)/\(prefixLength)" }

    public static func mask32(_ length: UInt8) -> UInt32 {
        length == 0 ? 0 : ~UInt32(0) << (32 - UInt32(length))
    }

    public static func mask128(_ length: UInt8) -> UInt128 {
        length == 0 ? 0 : ~UInt128(0) << (128 - UInt128(length))
    }
}
