import PortcullisPolicy

/// Which addresses a sandbox may claim in `source_addresses` (docs/api.md, "Source
/// addresses"). A claimed address makes credential-less traffic from it that sandbox's:
/// decided by its tenant's policy and written to its tenant's audit log. So no tenant may
/// claim an address that is not one sandbox's own:
/// - never the unspecified addresses (`0.0.0.0/8`, `::`), multicast (`224.0.0.0/4`,
///   `ff00::/8`) or the limited broadcast `255.255.255.255`: no packet comes from them;
/// - not loopback (`127.0.0.0/8`, `::1`) or the gateway's own addresses (its listeners' and
///   its interfaces'), whose traffic is the gateway host's, unless the operator lists them
///   with `serve --claimable CIDR` (a single host whose sandboxes are local processes on
///   loopback aliases, and tests).
public struct SourceAddressPolicy: Sendable {
    /// Ranges whose loopback and own addresses may be claimed anyway (`--claimable`).
    public var claimable: [IPNetwork]
    /// The gateway's own addresses now (asked at every claim, so interfaces that come and
    /// go are seen).
    public var ownAddresses: @Sendable () -> Set<IPAddress>

    public init(claimable: [IPNetwork] = [], ownAddresses: @escaping @Sendable () -> Set<IPAddress> = { [] }) {
        self.claimable = claimable
        self.ownAddresses = ownAddresses
    }

    static func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ length: UInt8) -> IPNetwork {
        IPNetwork(masking: .v4(IPv4Address(a, b, c, d)), prefixLength: length)
    }

    static func v6(_ value: UInt128, _ length: UInt8) -> IPNetwork {
        IPNetwork(masking: .v6(IPv6Address(value)), prefixLength: length)
    }

    /// Never claimable, whatever the configuration says.
    static let neverClaimable: [(IPNetwork, String)] = [
        (v4(0, 0, 0, 0, 8), "an unspecified address"), (v6(0, 128), "an unspecified address"),
        (v4(224, 0, 0, 0, 4), "a multicast address"), (v6(UInt128(0xff) << 120, 8), "a multicast address"),
        (v4(255, 255, 255, 255, 32), "the broadcast address"),
    ]
    /// Claimable only inside a `--claimable` range.
    static let loopback: [IPNetwork] = [v4(127, 0, 0, 0, 8), v6(1, 128)]

    /// Why `address` cannot be claimed, or nil when it can. `own` is `ownAddresses()`, asked
    /// once for a whole list.
    public func refusal(_ address: IPAddress, own: Set<IPAddress>) -> String? {
        for (network, what) in Self.neverClaimable where network.contains(address) {
            return "\(address) is \(what), never a sandbox's source address"
        }
        let exempt = claimable.contains { $0.contains(address) }
        if !exempt, Self.loopback.contains(where: { $0.contains(address) }) {
            return "\(address) is a loopback address: its traffic is the gateway host's (serve --claimable lets an operator allow it)"
        }
        if !exempt, own.contains(address) {
            return "\(address) is one of the gateway's own addresses (serve --claimable lets an operator allow it)"
        }
        return nil
    }
}
