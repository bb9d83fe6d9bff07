import CPortcullisNet
import NIOCore
import PortcullisPolicy
import PortcullisProxy

/// Reads the original (pre-redirect) destination of an accepted channel: `SO_ORIGINAL_DST`
/// (SOL_IP) on IPv4 sockets, `IP6T_SO_ORIGINAL_DST` (SOL_IPV6) on IPv6 ones, through NIO's
/// `SocketOptionProvider` (a non-blocking getsockopt; on the channel's loop the future is
/// already complete) and the `CPortcullisNet` shim that knows the constants and the
/// sockaddr layouts. nil when the socket has none (not redirected: no conntrack entry).
enum OriginalDestinationReader {
    static func read(_ channel: any Channel) -> EventLoopFuture<OriginalDestination?> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let ipv6: Bool
        switch channel.localAddress {
        case .v6(let a):
            // An IPv4 connection accepted on a dual-stack [::] socket is tracked as IPv4.
            let text = a.host
            ipv6 = !(text.hasPrefix("::ffff:") && text.contains("."))
        case .v4, .unixDomainSocket, nil: ipv6 = false
        }
        let level = ipv6 ? pc_sol_ipv6() : pc_sol_ip()
        let name = ipv6 ? pc_ip6t_so_original_dst() : pc_so_original_dst()
        let raw: EventLoopFuture<pc_sockaddr_buffer> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(level), name: SocketOptionName(name))
        return raw.map { decode($0) }.recover { _ in nil }
    }

    static func decode(_ raw: pc_sockaddr_buffer) -> OriginalDestination? {
        var raw = raw
        var out = pc_destination()
        guard pc_decode_sockaddr(&raw, &out) == 0 else { return nil }
        let bytes = withUnsafeBytes(of: out.address) { Array($0) }
        let address: IPAddress
        switch out.family {
        case 4:
            address = .v4(IPv4Address(bytes[0], bytes[1], bytes[2], bytes[3]))
        case 6:
            var value: UInt128 = 0
            for byte in bytes.prefix(16) { value = value << 8 | UInt128(byte) }
            address = .canonical(IPv6Address(value))
        default:
            return nil
        }
        guard out.port != 0 else { return nil }
        return OriginalDestination(address: address, port: out.port)
    }
}
