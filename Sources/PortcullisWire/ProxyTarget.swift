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
        guard !text.contains("@") else { throw TargetError("userinfo is not accepted in a proxy request target") }
        var hostPart = text
        var portPart: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw TargetError("unterminated IPv6 literal") }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw TargetError("junk after IPv6 literal") }
                portPart = rest.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
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
        let prefix = "http://"
        guard uri.utf8.count > prefix.utf8.count, uri.prefix(prefix.count).lowercased() == prefix else {
            if uri.hasPrefix("/") { throw TargetError("a forward proxy needs an absolute URI (http://host/path)") }
            throw TargetError("only http:// URIs are forwarded; use CONNECT for https")
        }
        let rest = uri.dropFirst(prefix.count)
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = try Authority.parse(rest[..<end])
        var origin = rest[end...]
        if let hash = origin.firstIndex(of: "#") { origin = origin[..<hash] }
        var originForm = String(origin)
        if originForm.isEmpty { originForm = "/" } else if originForm.hasPrefix("?") { originForm = "/" + originForm }
        return AbsoluteTarget(authority: authority, port: authority.port ?? 80, originForm: originForm)
    }

    /// The path without the query, for rules.
    public var path: String {
        if let q = originForm.firstIndex(of: "?") { return String(originForm[..<q]) }
        return originForm
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
