import PortcullisPolicy

/// Why a request target, authority or Host header was refused.
public struct TargetError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `host[:port]` as it appears in an absolute URI, a CONNECT line or a Host header.
public struct Authority: Hashable, Sendable {
    public let host: TargetHost
    public let port: UInt16?
    /// The host text as sent (bounded), for logging when it is not canonical.
    public let hostText: String

    /// Parses `host[:port]`, with IPv6 in brackets. The host goes through `HostParser`,
    /// so every IPv4 spelling is the address it means.
    public static func parse(_ text: Substring) throws(TargetError) -> Authority {
        guard !text.isEmpty, text.utf8.count <= HostParser.maxInputBytes else { throw TargetError("empty or overlong host") }
        // Byte searches (UTF-8 view), not Character ones: every delimiter here is ASCII,
        // and this runs for every request and tunnel.
        let bytes = text.utf8
        guard !bytes.contains(UInt8(ascii: "@")) else { throw TargetError("userinfo is not accepted in a proxy request target") }
        var hostPart = text
        var portPart: Substring?
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { throw TargetError("unterminated IPv6 literal") }
            hostPart = text[bytes.index(after: bytes.startIndex)..<close]
            let rest = text[bytes.index(after: close)...]
            if !rest.isEmpty {
                guard rest.utf8.first == UInt8(ascii: ":") else { throw TargetError("junk after IPv6 literal") }
                portPart = rest[rest.utf8.index(after: rest.utf8.startIndex)...]
            }
        } else if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
            hostPart = text[..<colon]
            portPart = text[bytes.index(after: colon)...]
        }
        var port: UInt16?
        if let portPart {
            guard let p = Authority.parsePort(portPart) else { throw TargetError("port must be 1-65535") }
            port = p
        }
        let host: TargetHost
        do { host = try HostParser.parseTarget(String(hostPart)) } catch { throw TargetError(error.message) }
        return Authority(host: host, port: port, hostText: String(hostPart.prefix(256)))
    }

    /// Decimal 1–65535, digits only.
    public static func parsePort(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let value = Int(text), value >= 1, value <= 65535
        else { return nil }
        return UInt16(value)
    }
}

/// The request target of a forward-proxy request (RFC 9112 §3.2.2, absolute-form).
///
/// Only `http` is accepted: HTTPS goes through CONNECT. The path and query are kept
/// verbatim for forwarding; rules see the path (`RequestLine` normalises it).
public struct AbsoluteTarget: Hashable, Sendable {
    public let authority: Authority
    public let port: UInt16
    /// Origin-form for the upstream request: path and query, `/` when empty.
    public let originForm: String

    public var host: TargetHost { authority.host }

    public static func parse(_ uri: String) throws(TargetError) -> AbsoluteTarget {
        var memo: AuthorityMemo?
        return try parse(uri, memo: &memo)
    }

    /// As `parse(_:)`; an authority spelled byte for byte as `memo`'s (a keep-alive
    /// connection's next request to the same place) takes its parsed form instead of being
    /// parsed again, and a new one becomes the memo.
    /// Whether `bytes` start with `http://`, the scheme's letters in any ASCII case (the one
    /// scheme a forward proxy takes; the stream handler's kept-authority check asks too).
    public static func startsWithHTTPScheme(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        b.count >= 7 && asciiLowered(b[0]) == UInt8(ascii: "h") && asciiLowered(b[1]) == UInt8(ascii: "t")
            && asciiLowered(b[2]) == UInt8(ascii: "t") && asciiLowered(b[3]) == UInt8(ascii: "p") && b[4] == UInt8(ascii: ":")
            && b[5] == UInt8(ascii: "/") && b[6] == UInt8(ascii: "/")
    }

    public static func parse(_ uri: String, memo: inout AuthorityMemo?) throws(TargetError) -> AbsoluteTarget {
        let prefix = "http://".utf8
        let bytes = uri.utf8
        // In place when the URI is contiguous (it is, as NIO's decoder makes it).
        let scheme = bytes.withContiguousStorageIfAvailable { $0.count > 7 && Self.startsWithHTTPScheme($0) }
            ?? (bytes.count > prefix.count && zip(bytes.prefix(prefix.count), prefix).allSatisfy({ asciiLowered($0) == $1 }))
        guard scheme else {
            if bytes.first == UInt8(ascii: "/") { throw TargetError("a forward proxy needs an absolute URI (http://host/path)") }
            throw TargetError("only http:// URIs are forwarded; use CONNECT for https")
        }
        let rest = uri[bytes.index(bytes.startIndex, offsetBy: prefix.count)...]
        let end = rest.utf8.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") })
            ?? rest.endIndex
        let text = rest[..<end]
        let authority: Authority
        if let memo, memo.matches(text) {
            authority = memo.authority
        } else {
            authority = try Authority.parse(text)
            memo = AuthorityMemo(text: String(text), authority: authority)
        }
        var origin = rest[end...]
        if let hash = origin.utf8.firstIndex(of: UInt8(ascii: "#")) { origin = origin[..<hash] }
        var originForm = String(origin)
        if originForm.isEmpty { originForm = "/" } else if originForm.utf8.first == UInt8(ascii: "?") { originForm = "/" + originForm }
        return AbsoluteTarget(authority: authority, port: authority.port ?? 80, originForm: originForm)
    }

    /// The path without the query, for rules.
    public var path: String {
        if let q = originForm.firstIndex(of: "?") { return String(originForm[..<q]) }
        return originForm
    }
}

/// An authority as sent and as parsed (`AbsoluteTarget.parse(_:memo:)`): parsing is a
/// function of the text alone, so the same text needs parsing once per connection.
public struct AuthorityMemo: Sendable {
    let text: String
    let authority: Authority

    /// Whether `other` is `text`, byte for byte (compared in place when both are contiguous).
    func matches(_ other: Substring) -> Bool {
        let inPlace = text.utf8.withContiguousStorageIfAvailable { a in
            other.utf8.withContiguousStorageIfAvailable { b in a.elementsEqual(b) }
        }
        if let inPlace, let equal = inPlace { return equal }
        return text.utf8.elementsEqual(other.utf8)
    }
}

/// The authority of a CONNECT request (RFC 9110 §9.3.6): `host:port`, the port required.
public enum ConnectTarget {
    public static func parse(_ text: String) throws(TargetError) -> (host: TargetHost, port: UInt16) {
        let authority = try Authority.parse(Substring(text))
        guard let port = authority.port else { throw TargetError("CONNECT needs host:port") }
        return (authority.host, port)
    }
}

/// An ASCII letter in lower case; every other byte as it is.
@inline(__always) private func asciiLowered(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}
