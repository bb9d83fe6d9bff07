import NIOCore

/// What the first bytes of a tunnel are, as far as TLS is concerned.
public enum ClientHelloPeek: Hashable, Sendable {
    /// Not enough bytes yet to tell; nothing was consumed.
    case needMoreBytes
    /// The first byte is not a TLS handshake record: some other protocol.
    case notTLS
    /// A complete ClientHello; `sni` is its `host_name` server name, if it carries one.
    case clientHello(sni: String?)
    /// A TLS handshake record that does not hold a well-formed ClientHello (or one larger
    /// than `ClientHelloPeeker.maxHelloBytes`).
    case malformed
}

/// A transactional ClientHello peeker (RFC 8446 §4.1.2, RFC 6066 §3).
///
/// It reads a *copy* of the buffer: the caller keeps the original bytes and forwards them
/// unchanged after the verdict. Every declared length is sliced before reading inside it,
/// so a lying length can never read outside its own structure. The handshake message may
/// span several TLS records; their fragments are reassembled up to `maxHelloBytes`.
///
/// ```
/// TLSPlaintext: type(1)=22 version(2) length(2) fragment
/// Handshake:    msg_type(1)=1 length(3) ClientHello
/// ClientHello:  version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
///               compression_methods<1..2^8-1> extensions<8..2^16-1>
/// server_name:  type(2)=0 len(2) server_name_list<1..2^16-1> { name_type(1)=0 host_name<1..2^16-1> }
/// ```
public enum ClientHelloPeeker {
    /// The largest ClientHello handshake message accepted (bytes of handshake body).
    public static let maxHelloBytes = 16 * 1024

    public static func peek(_ buffer: ByteBuffer) -> ClientHelloPeek {
        var records = buffer
        guard let first: UInt8 = records.getInteger(at: records.readerIndex) else { return .needMoreBytes }
        guard first == 22 else { return .notTLS }
        var handshake = ByteBufferAllocator().buffer(capacity: 0)
        var needed: Int? = nil
        while true {
            guard records.readableBytes >= 5 else { return .needMoreBytes }
            guard let type: UInt8 = records.readInteger(), let major: UInt8 = records.readInteger(),
                  let _: UInt8 = records.readInteger(), let length: UInt16 = records.readInteger()
            else { return .needMoreBytes }
            guard type == 22, major == 3, length > 0, length <= 16_384 + 256 else { return .malformed }
            guard var fragment = records.readSlice(length: Int(length)) else { return .needMoreBytes }
            handshake.writeBuffer(&fragment)
            if needed == nil, handshake.readableBytes >= 4 {
                let msgType: UInt8 = handshake.getInteger(at: handshake.readerIndex)!
                guard msgType == 1 else { return .malformed }
                let b = handshake.getBytes(at: handshake.readerIndex + 1, length: 3)!
                let len = Int(b[0]) << 16 | Int(b[1]) << 8 | Int(b[2])
                guard len <= maxHelloBytes else { return .malformed }
                needed = len + 4
            }
            if let needed {
                if handshake.readableBytes >= needed {
                    guard var body = handshake.getSlice(at: handshake.readerIndex + 4, length: needed - 4) else {
                        return .malformed
                    }
                    return parseHello(&body)
                }
            }
            if handshake.readableBytes > maxHelloBytes + 4 { return .malformed }
        }
    }

    /// Parses a ClientHello body (after the 4-byte handshake header).
    static func parseHello(_ body: inout ByteBuffer) -> ClientHelloPeek {
        guard let _: UInt16 = body.readInteger(), body.readSlice(length: 32) != nil,
              let sessionLength: UInt8 = body.readInteger(), sessionLength <= 32,
              body.readSlice(length: Int(sessionLength)) != nil,
              let suitesLength: UInt16 = body.readInteger(), suitesLength >= 2, suitesLength % 2 == 0,
              body.readSlice(length: Int(suitesLength)) != nil,
              let compressionLength: UInt8 = body.readInteger(), compressionLength >= 1,
              body.readSlice(length: Int(compressionLength)) != nil
        else { return .malformed }
        // A ClientHello without extensions is legal (and has no SNI).
        if body.readableBytes == 0 { return .clientHello(sni: nil) }
        guard let extensionsLength: UInt16 = body.readInteger(),
              var extensions = body.readSlice(length: Int(extensionsLength)), body.readableBytes == 0
        else { return .malformed }
        var sni: String?
        var sawServerName = false
        while extensions.readableBytes > 0 {
            guard let type: UInt16 = extensions.readInteger(), let length: UInt16 = extensions.readInteger(),
                  var data = extensions.readSlice(length: Int(length))
            else { return .malformed }
            guard type == 0 else { continue }
            // A second server_name extension is a protocol violation (RFC 8446 §4.2).
            guard !sawServerName else { return .malformed }
            sawServerName = true
            guard let listLength: UInt16 = data.readInteger(), var list = data.readSlice(length: Int(listLength)),
                  data.readableBytes == 0
            else { return .malformed }
            while list.readableBytes > 0 {
                guard let nameType: UInt8 = list.readInteger(), let nameLength: UInt16 = list.readInteger(),
                      let name = list.readSlice(length: Int(nameLength))
                else { return .malformed }
                guard nameType == 0 else { continue }
                // RFC 6066: at most one host_name; ASCII, no NUL.
                guard sni == nil, nameLength > 0, let text = asciiHostName(name) else { return .malformed }
                sni = text
            }
        }
        return .clientHello(sni: sni)
    }

    static func asciiHostName(_ buffer: ByteBuffer) -> String? {
        let view = buffer.readableBytesView
        guard view.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: view, as: UTF8.self)
    }
}
