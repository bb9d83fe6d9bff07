/// Where a credential's secret goes in a request (INSPECTION.md, "Credentials").
public enum CredentialPlacement: Hashable, Sendable, CustomStringConvertible {
    /// A header whose whole value is rendered from `format` (`Bearer {secret}`).
    case header(name: String, format: String)
    /// The password of `Authorization: Basic` (the username is kept).
    case basic
    /// A query parameter's value.
    case query(name: String)

    public var description: String {
        switch self {
        case .header(let name, let format): return "header \(name): \(format)"
        case .basic: return "basic password"
        case .query(let name): return "query parameter \(name)"
        }
    }
}

/// A credential attached to a sandbox, as the data plane applies it: where it may go
/// (`https` to `host`:`port`, the methods and path prefix), how (`placement`), and the
/// placeholder the sandbox holds instead of the secret.
public struct CredentialBinding: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    /// `pcx_` and 32 characters of lower-case base-32, unique to (sandbox, credential).
    public let placeholder: String
    /// An exact name or a wildcard (never an IP, never over a public suffix).
    public let host: HostPattern
    public let port: UInt16
    /// Upper-case methods; nil: any.
    public let methods: [String]?
    /// A canonical path prefix on a segment boundary; nil: any path.
    public let pathPrefix: String?
    public let placement: CredentialPlacement
    /// A request to the binding without the placeholder is refused (`credential-required`).
    public let require: Bool
    /// The secret itself. Never printed (`description` leaves it out).
    public let secret: String

    public init(name: String, placeholder: String, host: HostPattern, port: UInt16 = 443, methods: [String]? = nil,
                pathPrefix: String? = nil, placement: CredentialPlacement, require: Bool = false, secret: String) {
        self.name = name
        self.placeholder = placeholder
        self.host = host
        self.port = port
        self.methods = methods
        self.pathPrefix = pathPrefix
        self.placement = placement
        self.require = require
        self.secret = secret
    }

    public var description: String {
        "credential \(name) (\(placement) for https://\(host):\(port)\(pathPrefix ?? ""), secret withheld)"
    }

    /// Whether this binding's host and port cover a connection's target.
    public func coversHost(_ target: TargetHost, port: UInt16?) -> Bool {
        guard port == self.port else { return false }
        return host.covers(target)
    }

    /// Whether a request (on a terminated connection to `target`) is one this binding is for.
    public func covers(_ target: TargetHost, port: UInt16?, method: String, canonicalPath: String) -> Bool {
        guard coversHost(target, port: port) else { return false }
        if let methods, !methods.contains(method) { return false }
        if let prefix = pathPrefix {
            guard canonicalPath.hasPrefix(prefix) else { return false }
            let rest = canonicalPath.utf8.dropFirst(prefix.utf8.count)
            if !(prefix.hasSuffix("/") || rest.isEmpty || rest.first == UInt8(ascii: "/")) { return false }
        }
        return true
    }
}

/// Placeholders in bytes: `pcx_` followed by exactly 32 characters of `a`–`z` and `2`–`7`,
/// not part of a longer run of such characters (so `pcx_` + 33 is no placeholder).
public enum Placeholders {
    public static let prefix: [UInt8] = Array("pcx_".utf8)
    public static let bodyLength = 32
    public static let length = prefix.count + bodyLength

    static func isBase32(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x32 && b <= 0x37) }

    /// Every placeholder in `bytes`, in order.
    public static func find<C: Collection>(in bytes: C) -> [String] where C.Element == UInt8, C.Index == Int {
        var found: [String] = []
        guard bytes.count >= length else { return found }
        var i = bytes.startIndex
        let last = bytes.endIndex - length
        while i <= last {
            if bytes[i] == UInt8(ascii: "p"), bytes[i + 1] == UInt8(ascii: "c"), bytes[i + 2] == UInt8(ascii: "x"),
               bytes[i + 3] == UInt8(ascii: "_") {
                var j = i + 4
                while j < bytes.endIndex, isBase32(bytes[j]) { j += 1 }
                if j - (i + 4) == bodyLength {
                    found.append(String(decoding: bytes[i..<j], as: UTF8.self))
                    i = j
                } else {
                    i += 4  // another "pcx_" may start inside a run too short or too long
                }
                continue
            }
            i += 1
        }
        return found
    }

    /// As above, read in place (no copy of the text).
    public static func find(in text: String) -> [String] {
        var text = text
        return text.withUTF8 { find(in: $0) }
    }

    /// Whether `text` holds a placeholder — without copying it (the common case on every
    /// request: none anywhere).
    public static func occurs(in text: String) -> Bool {
        var text = text
        return text.withUTF8 { !find(in: $0).isEmpty }
    }

    /// Whether `text` is exactly one placeholder.
    public static func isPlaceholder(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == length && bytes.starts(with: prefix) && bytes.dropFirst(prefix.count).allSatisfy(isBase32)
    }
}
