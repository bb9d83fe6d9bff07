import NIOCore

/// RFC 1929 username/password sub-negotiation (NIOSOCKS only does method selection).
///
/// ```
/// request:  +----+------+----------+------+----------+
///           |VER | ULEN |  UNAME   | PLEN |  PASSWD  |
///           | 1  |  1   | 1 to 255 |  1   | 1 to 255 |
/// response: +----+--------+
///           |VER | STATUS |   (0x00 success; anything else failure, and the
///           | 1  |   1    |    server MUST close the connection)
/// ```
public enum SOCKSUsernamePassword {
    public static let version: UInt8 = 0x01
    /// The largest request: 1 + 1 + 255 + 1 + 255.
    public static let maxRequestBytes = 513

    public enum ParseResult: Hashable, Sendable {
        /// Not enough bytes yet; nothing consumed.
        case needMoreBytes
        case credential(ProxyCredential)
        /// Wrong version byte (or zero-length user name).
        case malformed
    }

    /// Parses one request from the front of `buffer`; consumes it only on success.
    public static func parse(_ buffer: inout ByteBuffer) -> ParseResult {
        var copy = buffer
        guard let ver: UInt8 = copy.readInteger() else { return .needMoreBytes }
        guard ver == version else { return .malformed }
        guard let ulen: UInt8 = copy.readInteger() else { return .needMoreBytes }
        guard ulen > 0 else { return .malformed }
        guard let user = copy.readSlice(length: Int(ulen)) else { return .needMoreBytes }
        guard let plen: UInt8 = copy.readInteger() else { return .needMoreBytes }
        guard let password = copy.readSlice(length: Int(plen)) else { return .needMoreBytes }
        buffer = copy
        return .credential(ProxyCredential(username: String(decoding: user.readableBytesView, as: UTF8.self),
                                           password: String(decoding: password.readableBytesView, as: UTF8.self)))
    }

    /// Writes a request (for clients and tests). User and password are cut to 255 bytes.
    public static func writeRequest(_ credential: ProxyCredential, into buffer: inout ByteBuffer) {
        let user = Array(credential.username.utf8.prefix(255)), password = Array(credential.password.utf8.prefix(255))
        buffer.writeInteger(version)
        buffer.writeInteger(UInt8(user.count))
        buffer.writeBytes(user)
        buffer.writeInteger(UInt8(password.count))
        buffer.writeBytes(password)
    }

    /// Writes the two-byte response: `01 00` on success, `01 01` on failure.
    public static func writeResponse(success: Bool, into buffer: inout ByteBuffer) {
        buffer.writeInteger(version)
        buffer.writeInteger(success ? UInt8(0) : UInt8(1))
    }
}
