import NIOCore
import PortcullisPolicy

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Socket addresses and the engine's addresses converted from their bits (no text round
// trip): the listeners identify sandboxes by source address, the dialler builds the
// address it connects to, the transparent listener compares its own address.

extension IPAddress {
    /// The address of an IPv4 or IPv6 socket address (IPv4-mapped IPv6 as IPv4, as the
    /// host parser spells it); nil for a Unix socket. Read from the bits, not from text.
    public init?(socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let a):
            self = .v4(IPv4Address(UInt32(bigEndian: a.address.sin_addr.s_addr)))
        case .v6(let a):
            var value: UInt128 = 0
            withUnsafeBytes(of: a.address.sin6_addr) { raw in
                for byte in raw { value = value << 8 | UInt128(byte) }
            }
            self = IPAddress.canonical(IPv6Address(value))
        case .unixDomainSocket:
            return nil
        }
    }
}

extension SocketAddress {
    /// The socket address of exactly `address` and `port`, built from the bits.
    public init(_ address: IPAddress, port: UInt16) {
        switch address {
        case .v4(let a):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = a.value.bigEndian
            self.init(sin, host: "")
        case .v6(let a):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            var value = a.value
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
                for i in stride(from: 15, through: 0, by: -1) {
                    raw[i] = UInt8(truncatingIfNeeded: value)
                    value >>= 8
                }
            }
            self.init(sin6, host: "")
        }
    }
}

extension SocketAddress {
    /// The audit log's `client` field: `ip:port`, an IPv6 address always in brackets
    /// (`[::1]:53422`); `unix` for a Unix socket. The one formatter for every ingress.
    public var auditText: String {
        switch self {
        case .v4: return "\(ipAddress ?? "?"):\(port ?? 0)"
        case .v6: return "[\(ipAddress ?? "?")]:\(port ?? 0)"
        case .unixDomainSocket: return "unix"
        }
    }
}

extension Optional where Wrapped == SocketAddress {
    /// `auditText`, or `unknown` when the address is not known.
    public var auditText: String { self?.auditText ?? "unknown" }
}
