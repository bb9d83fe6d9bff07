import NIOCore

/// What a tunnel's first client bytes are: the one classifier for CONNECT, SOCKS5 and the
/// transparent listener (peek, never consume: STYLE.md §8).
public enum FirstBytes: Hashable, Sendable {
    /// Not enough bytes yet to tell (nothing consumed).
    case needMoreBytes
    /// A complete TLS ClientHello (a handshake record, ClientHello message); `sni` is its
    /// `host_name`, if any.
    case clientHello(sni: String?)
    /// An HTTP/1.x request, or something an upstream could take for one (a known method in
    /// any case, or a first line naming `HTTP/`): every request is then parsed strictly,
    /// decided and re-framed, never passed raw.
    case http
    /// Another protocol (SSH, a database, …): decided on the target alone.
    case opaque
    /// TLS-looking bytes that are not a usable ClientHello: a record of another type (alert,
    /// change cipher spec, application data, heartbeat) ahead of any ClientHello, an
    /// SSLv2-format hello (it cannot carry an SNI), a broken or oversized record.
    case refused(String)
}

/// The classifier (`FirstBytes`).
///
/// TLS records are recognised by their header (`type(1) version(2) length(2)`: a type of
/// 20–24 with major version 3), not by the first byte alone; only a handshake record holding
/// a ClientHello passes, and `ClientHelloPeeker` reads it transactionally. An SSLv2 hello
/// (high bit set, message type 1) is refused. A text line that names `HTTP/`, or that starts
/// with an HTTP method in any case, is HTTP. Anything else is opaque.
public enum FirstBytesClassifier {
    /// The most bytes an HTTP request line is looked for in before the bytes are opaque.
    public static let maxLineBytes = 8 * 1024

    /// The methods an upstream may recognise, compared case-insensitively (a lenient server
    /// accepts `get`): their presence makes the bytes HTTP, which is then parsed strictly.
    static let methods: [[UInt8]] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI",
                                     "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH",
                                     "REPORT", "PURGE"].map { Array($0.utf8) }

    public static func classify(_ buffer: ByteBuffer) -> FirstBytes {
        let view = buffer.readableBytesView
        guard let first = view.first else { return .needMoreBytes }
        if (20...24).contains(first) {
            guard view.count >= 2 else { return .needMoreBytes }
            let major = view[view.startIndex + 1]
            if major == 3 {
                guard first == 22 else { return .refused("a TLS record of type \(first) before any ClientHello") }
                switch ClientHelloPeeker.peek(buffer) {
                case .needMoreBytes: return .needMoreBytes
                case .clientHello(let sni): return .clientHello(sni: sni)
                case .malformed, .notTLS: return .refused("a malformed TLS ClientHello")
                }
            }
        }
        if first & 0x80 != 0 {
            // SSLv2 record: 2-byte header with the high bit set, then msg_type 1 (CLIENT-HELLO).
            guard view.count >= 3 else { return .needMoreBytes }
            if view[view.startIndex + 2] == 1 { return .refused("an SSLv2-format ClientHello (it cannot carry an SNI)") }
            return .opaque
        }
        return classifyText(view)
    }

    /// HTTP or opaque, from the first line (leading CR/LF skipped, as HTTP servers do).
    static func classifyText(_ view: ByteBufferView) -> FirstBytes {
        var start = view.startIndex
        while start < view.endIndex, view[start] == 13 || view[start] == 10 { start += 1 }
        if start == view.endIndex { return view.count > maxLineBytes ? .opaque : .needMoreBytes }
        // A method token (any case) followed by a space or tab.
        var i = start
        while i < view.endIndex, i - start <= 20, isLetter(view[i]) || view[i] == UInt8(ascii: "-") { i += 1 }
        if i < view.endIndex, i > start, view[i] == 32 || view[i] == 9 {
            let token = view[start..<i].map { $0 & ~0x20 }
            if methods.contains(where: { $0.elementsEqual(token) }) { return .http }
        } else if i == view.endIndex, i - start <= 20 {
            // Could still become a known method: wait (bounded by the caller's deadline).
            let token = view[start..<i].map { $0 & ~0x20 }
            if methods.contains(where: { $0.starts(with: token) }) { return .needMoreBytes }
        }
        // Otherwise, a first line that names HTTP/ (any case) is HTTP.
        var j = start
        while j < view.endIndex, j - start < maxLineBytes {
            let b = view[j]
            if b == 10 { return lineNamesHTTP(view[start..<j]) ? .http : .opaque }
            if b < 9 || (b > 13 && b < 32) || b == 127 { return .opaque }  // binary: another protocol
            j += 1
        }
        if j - start >= maxLineBytes { return lineNamesHTTP(view[start..<j]) ? .http : .opaque }
        return .needMoreBytes
    }

    static func lineNamesHTTP(_ line: ByteBufferView.SubSequence) -> Bool {
        let needle: [UInt8] = Array("HTTP/".utf8)
        guard line.count >= needle.count else { return false }
        var i = line.startIndex
        while i <= line.endIndex - needle.count {
            var match = true
            for k in 0..<needle.count where line[i + k] & ~0x20 != needle[k] & ~0x20 {
                match = false
                break
            }
            if match { return true }
            i += 1
        }
        return false
    }

    static func isLetter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
}

/// Ports on which a name target's first record must be a TLS ClientHello carrying its SNI
/// (POLICY-MODEL.md's consistency checks; docs/data-plane.md lists them): HTTPS and the
/// implicit-TLS ports of other protocols.
public enum TLSPorts {
    public static let all: Set<UInt16> = [443, 8443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061, 5223, 6697, 8883]
    public static func contains(_ port: UInt16) -> Bool { all.contains(port) }
}
