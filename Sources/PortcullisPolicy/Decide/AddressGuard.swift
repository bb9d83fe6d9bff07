/// One range of the address guard.
public struct GuardRange: Hashable, Sendable, CustomStringConvertible {
    public let network: IPNetwork
    /// What the range is, for reasons: "link-local", "cloud metadata", "private (RFC 1918)", ….
    public let label: String
    /// Link-local and metadata ranges cannot be exempted by server configuration; only an
    /// allow IP/CIDR rule opens them.
    public let alwaysGuarded: Bool
    /// `guard:<range>`, the `rejected_by` value.
    public let code: String

    public init(_ network: IPNetwork, _ label: String, alwaysGuarded: Bool = false) {
        self.network = network
        self.label = label
        self.alwaysGuarded = alwaysGuarded
        self.code = AuditVocabulary.guardPrefix + network.description
    }

    public var description: String { "\(network) (\(label))" }
}

/// The address guard (POLICY-MODEL.md, "Address stage"): addresses no sandbox reaches unless
/// an allow IP/CIDR rule covers them, in every mode.
public struct AddressGuard: Hashable, Sendable {
    /// Most specific ranges first, so a metadata address is named as metadata.
    public let ranges: [GuardRange]
    /// Server configuration that narrows the guard (`--guard-exempt`); never link-local/metadata.
    public let exemptions: [IPNetwork]

    /// The guard with the shipped ranges, the gateway's own addresses, and exemptions.
    public init(gatewayAddresses: [IPAddress] = [], exemptions: [IPNetwork] = []) {
        var ranges = AddressGuard.metadataRanges
        for address in gatewayAddresses {
            ranges.append(GuardRange(IPNetwork(masking: address, prefixLength: address.bitWidth), "the gateway's own address"))
        }
        ranges += AddressGuard.shippedRanges
        self.ranges = ranges
        self.exemptions = exemptions
    }

    /// The range that guards `address`, or nil when the guard lets it through.
    @inlinable
    public func range(guarding address: IPAddress) -> GuardRange? {
        for range in ranges where range.network.contains(address) {
            if !range.alwaysGuarded, exemptions.contains(where: { $0.contains(address) }) { continue }
            return range
        }
        return nil
    }

    static func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ len: UInt8) -> IPNetwork {
        IPNetwork(masking: .v4(IPv4Address(a, b, c, d)), prefixLength: len)
    }

    static func v6(_ high: UInt64, _ low: UInt64 = 0, _ len: UInt8) -> IPNetwork {
        IPNetwork(masking: .v6(IPv6Address(UInt128(high) << 64 | UInt128(low))), prefixLength: len)
    }

    /// Cloud metadata endpoints, named before the wider ranges that hold some of them.
    public static let metadataRanges: [GuardRange] = [
        GuardRange(v4(169, 254, 169, 254, 32), "cloud metadata (AWS, GCP, Azure, OpenStack)", alwaysGuarded: true),
        GuardRange(v4(169, 254, 170, 2, 32), "cloud metadata (AWS ECS task credentials)", alwaysGuarded: true),
        GuardRange(v4(168, 63, 129, 16, 32), "cloud metadata (Azure wire server)", alwaysGuarded: true),
        GuardRange(v4(100, 100, 100, 200, 32), "cloud metadata (Alibaba Cloud)", alwaysGuarded: true),
        GuardRange(v6(0xFD00_0EC2_0000_0000, 0x254, 128), "cloud metadata (AWS IPv6)", alwaysGuarded: true),
    ]

    /// The rest of the guarded set.
    public static let shippedRanges: [GuardRange] = [
        GuardRange(v4(169, 254, 0, 0, 16), "link-local", alwaysGuarded: true),
        GuardRange(v6(0xFE80_0000_0000_0000, 0, 10), "link-local", alwaysGuarded: true),
        GuardRange(v4(127, 0, 0, 0, 8), "loopback"),
        GuardRange(v6(0, 1, 128), "loopback"),
        GuardRange(v4(0, 0, 0, 0, 8), "unspecified (this network)"),
        GuardRange(v6(0, 0, 128), "unspecified"),
        GuardRange(v4(10, 0, 0, 0, 8), "private (RFC 1918)"),
        GuardRange(v4(172, 16, 0, 0, 12), "private (RFC 1918)"),
        GuardRange(v4(192, 168, 0, 0, 16), "private (RFC 1918)"),
        GuardRange(v4(100, 64, 0, 0, 10), "shared address space (RFC 6598)"),
        GuardRange(v6(0xFC00_0000_0000_0000, 0, 7), "unique local (private)"),
        GuardRange(v4(224, 0, 0, 0, 4), "multicast"),
        GuardRange(v6(0xFF00_0000_0000_0000, 0, 8), "multicast"),
        GuardRange(v4(255, 255, 255, 255, 32), "broadcast"),
        GuardRange(v4(240, 0, 0, 0, 4), "reserved"),
        GuardRange(v4(192, 0, 0, 0, 24), "reserved (IETF protocol assignments)"),
        GuardRange(v4(192, 0, 2, 0, 24), "reserved (documentation)"),
        GuardRange(v4(198, 51, 100, 0, 24), "reserved (documentation)"),
        GuardRange(v4(203, 0, 113, 0, 24), "reserved (documentation)"),
        GuardRange(v4(198, 18, 0, 0, 15), "reserved (benchmarking)"),
        GuardRange(v4(192, 88, 99, 0, 24), "reserved (6to4 relay)"),
        GuardRange(v6(0x0064_FF9B_0000_0000, 0, 96), "IPv4-embedding (NAT64)"),
        GuardRange(v6(0x0064_FF9B_0001_0000, 0, 48), "IPv4-embedding (local NAT64)"),
        GuardRange(v6(0x2002_0000_0000_0000, 0, 16), "IPv4-embedding (6to4)"),
        GuardRange(v6(0x2001_0000_0000_0000, 0, 32), "IPv4-embedding (Teredo)"),
        GuardRange(v6(0, 0, 96), "IPv4-embedding (IPv4-compatible)"),
        GuardRange(v6(0x2001_0DB8_0000_0000, 0, 32), "reserved (documentation)"),
        GuardRange(v6(0x3FFF_0000_0000_0000, 0, 20), "reserved (documentation)"),
        GuardRange(v6(0x0100_0000_0000_0000, 0, 64), "reserved (discard)"),
        GuardRange(v6(0x2001_0010_0000_0000, 0, 28), "reserved (ORCHID)"),
        GuardRange(v6(0x2001_0020_0000_0000, 0, 28), "reserved (ORCHIDv2)"),
        GuardRange(v6(0xFEC0_0000_0000_0000, 0, 10), "reserved (site-local)"),
        GuardRange(v6(0x5F00_0000_0000_0000, 0, 16), "reserved (SRv6)"),
    ]
}
