import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SOCKS5 replies (RFC 1928 §6), written by the gateway itself once the handshake
/// handler has left the pipeline:
///
/// ```
/// +----+-----+-------+------+----------+----------+
/// |VER | REP |  RSV  | ATYP | BND.ADDR | BND.PORT |
/// +----+-----+-------+------+----------+----------+
/// | 1  |  1  | X'00' |  1   | Variable |    2     |
/// ```
public enum SOCKSReply {
    public static let succeeded: UInt8 = 0x00
    public static let serverFailure: UInt8 = 0x01
    /// "connection not allowed by ruleset": every policy rejection.
    public static let notAllowed: UInt8 = 0x02
    public static let hostUnreachable: UInt8 = 0x04
    public static let connectionRefused: UInt8 = 0x05
    public static let ttlExpired: UInt8 = 0x06
    public static let commandUnsupported: UInt8 = 0x07
    public static let addressUnsupported: UInt8 = 0x08

    /// Writes a reply with `code` and the bound address (`0.0.0.0:0` when nil).
    public static func write(_ code: UInt8, bound: SocketAddress?, into buffer: inout ByteBuffer) {
        buffer.writeBytes([0x05, code, 0x00])
        switch bound {
        case .v4(let a)?:
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(UInt32(bigEndian: a.address.sin_addr.s_addr))
            buffer.writeInteger(UInt16(bound?.port ?? 0))
        case .v6(let a)?:
            buffer.writeInteger(UInt8(4))
            withUnsafeBytes(of: a.address.sin6_addr) { buffer.writeBytes($0) }
            buffer.writeInteger(UInt16(bound?.port ?? 0))
        case .unixDomainSocket?, nil:
            buffer.writeBytes([0x01, 0, 0, 0, 0, 0, 0])
        }
    }
}
