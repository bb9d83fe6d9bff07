import NIOCore
import PortcullisPolicy
import PortcullisWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which address of this host faces a peer: the source address the kernel picks for a
/// packet to it, found by connecting a UDP socket (nothing is sent) and reading its local
/// address. For a `portcullis run` sandbox this is the host end of its link, the address the
/// DNS gateway answers for `host.portcullis.internal` (docs/dns.md).
enum LocalRoute {
    /// The address of this host facing `peer`, or nil when there is no route to it.
    /// A few system calls, no I/O: cheap enough for the event loop.
    static func address(facing peer: IPAddress) -> IPAddress? {
        let family: Int32
        switch peer {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        }
        #if canImport(Glibc)
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(family, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let target = SocketAddress(peer, port: 53)
        let connected = target.withSockAddr { pointer, length in connect(fd, pointer, socklen_t(length)) }
        guard connected == 0 else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        let local: SocketAddress
        switch Int32(storage.ss_family) {
        case AF_INET:
            local = withUnsafeBytes(of: storage) { raw in SocketAddress(raw.load(as: sockaddr_in.self), host: "") }
        case AF_INET6:
            local = withUnsafeBytes(of: storage) { raw in SocketAddress(raw.load(as: sockaddr_in6.self), host: "") }
        default:
            return nil
        }
        guard let address = IPAddress(socketAddress: local), !address.isUnspecified else { return nil }
        return address
    }
}
