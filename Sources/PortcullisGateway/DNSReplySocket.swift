import CPortcullisNet
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The DNS gateway's UDP socket when it is bound to the wildcard address (`--dns
/// 0.0.0.0:5353`, `[::]:5353`): answers must leave from the address each query was sent
/// to, or a client that asked 10.0.0.5 gets its answer from 10.0.0.1 and drops it (dig:
/// "reply from unexpected source"), and a NAT'ed query (`portcullis run` redirects port 53
/// to the gateway) is not mapped back. A socket bound to the wildcard lets the kernel pick
/// the source by route, which on a host with several addresses on one link, or a query
/// to 127.0.0.2, is another address.
///
/// SwiftNIO reports each datagram's destination (`ChannelOptions.receivePacketInfo`, in
/// `AddressedEnvelope.metadata.packetInfo`) but sends without one, so this type opens the
/// socket itself (`pc_udp_bound`), gives it to NIO for reading, and answers with
/// `sendmsg` and IP_PKTINFO / IPV6_PKTINFO (`pc_send_from`) on the event loop that reads it.
///
/// Note to maintainers: the send is non-blocking and not queued; an answer the socket's
/// buffer cannot take now is dropped, as a lost datagram would be (the client asks again).
/// The descriptor belongs to the NIO channel, which closes it: send only while the channel
/// is active, checked on its event loop (close happens there too).
struct DNSReplySocket {
    let descriptor: CInt
    let ipv6: Bool

    /// Opens and binds the socket; throws `IOError` (EADDRINUSE and all) like a NIO bind.
    static func open(_ address: SocketAddress) throws -> DNSReplySocket {
        guard var destination = Self.destination(address) else {
            throw IOError(errnoCode: EAFNOSUPPORT, reason: "bind(\(address))")
        }
        let fd = pc_udp_bound(&destination)
        guard fd >= 0 else { throw IOError(errnoCode: -fd, reason: "bind(\(address))") }
        return DNSReplySocket(descriptor: fd, ipv6: destination.family == 6)
    }

    /// Whether `address` is 0.0.0.0 or ::, where the source of an answer must be chosen.
    static func isWildcard(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let a): a.address.sin_addr.s_addr == 0
        case .v6(let a): withUnsafeBytes(of: a.address.sin6_addr) { $0.allSatisfy { $0 == 0 } }
        case .unixDomainSocket: false
        }
    }

    /// Sends `bytes` to `peer` from `local`; false when it could not be sent now.
    func send(_ bytes: ByteBuffer, to peer: SocketAddress, from local: SocketAddress) -> Bool {
        guard var to = Self.destination(peer), var from = Self.destination(local) else { return false }
        return bytes.withUnsafeReadableBytes { raw in
            pc_send_from(descriptor, ipv6 ? 1 : 0, raw.baseAddress, UInt(raw.count), &to, &from) == raw.count
        }
    }

    /// A socket address as the shim takes it (address bytes in network order, port in host order).
    static func destination(_ address: SocketAddress) -> pc_destination? {
        var out = pc_destination()
        switch address {
        case .v4(let a):
            out.family = 4
            withUnsafeBytes(of: a.address.sin_addr) { source in
                withUnsafeMutableBytes(of: &out.address) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(4))) }
            }
            out.port = UInt16(bigEndian: a.address.sin_port)
        case .v6(let a):
            out.family = 6
            withUnsafeBytes(of: a.address.sin6_addr) { source in
                withUnsafeMutableBytes(of: &out.address) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(16))) }
            }
            out.port = UInt16(bigEndian: a.address.sin6_port)
        case .unixDomainSocket:
            return nil
        }
        return out
    }
}
