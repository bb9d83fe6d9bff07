/// A rule's path: an exact path (`/v1/models`), or a prefix ending in `/*` that matches on
/// a segment boundary (`/v1/chat/*` covers `/v1/chat` and everything below `/v1/chat/`,
/// never `/v1/chatty`). Paths are compared after dot-segment removal.
public struct PathPattern: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case exact
        case prefix
    }

    public let kind: Kind
    /// For `.exact`, the path; for `.prefix`, the part before `/*` (empty for `/*`).
    public let base: String

    public var description: String { kind == .exact ? base : base + "/*" }

    /// Parses and normalises an operator's path pattern.
    public static func parse(_ input: String) throws(RuleError) -> PathPattern {
        guard !input.isEmpty else { throw RuleError("paths: an empty path is not accepted; write a path such as /v1/models or /v1/chat/*") }
        guard input.utf8.count <= 2048 else { throw RuleError("paths: a path is limited to 2048 characters") }
        guard input.first == "/" else { throw RuleError("paths: \(Escape.quoted(input)) must start with /, as in /v1/chat/*") }
        if input.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F || $0.value > 0x7E }) {
            throw RuleError("paths: \(Escape.quoted(input)) contains spaces, control or non-ASCII characters; percent-encode them")
        }
        if input.contains("?") || input.contains("#") {
            throw RuleError("paths: \(Escape.quoted(input)) contains a query or fragment; write the path only")
        }
        if PathPattern.hasEncodedSeparator(input) || input.contains("\\") {
            throw RuleError("paths: \(Escape.quoted(input)) contains an encoded slash or a backslash, which are not accepted")
        }
        var text = input
        var kind = Kind.exact
        if text.hasSuffix("/*") {
            kind = .prefix
            text.removeLast(2)
        }
        if text.contains("*") {
            throw RuleError("paths: \(Escape.quoted(input)) has a * that is not a trailing /*; write an exact path or a prefix such as /v1/chat/*")
        }
        guard let normalized = PathPattern.removeDotSegments(PathPattern.decodeUnreserved(text.isEmpty ? "/" : text)) else {
            throw RuleError("paths: \(Escape.quoted(input)) is not a valid path")
        }
        var base = normalized
        if kind == .prefix, base.hasSuffix("/") { base.removeLast() }
        return PathPattern(kind: kind, base: base)
    }

    init(kind: Kind, base: String) {
        self.kind = kind
        self.base = base
    }

    /// Whether this pattern covers a path that `normalize(requestPath:)` produced.
    public func matches(normalizedPath path: String) -> Bool {
        switch kind {
        case .exact:
            return path == base
        case .prefix:
            if base.isEmpty { return true }
            guard path.hasPrefix(base) else { return false }
            let rest = path.utf8.dropFirst(base.utf8.count)
            return rest.isEmpty || rest.first == UInt8(ascii: "/")
        }
    }

    /// Normalises a request's path for comparison, or nil when it cannot be compared safely.
    public static func normalize(requestPath input: String) -> String? {
        if let plain = plainPath(input) { return plain }
        return fullyNormalized(input)
    }

    /// Every step, for any input: cut query and fragment, refuse `\\` and encoded
    /// separators, decode unreserved escapes, remove dot-segments.
    static func fullyNormalized(_ input: String) -> String? {
        var path = Substring(input)
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<q] }
        guard path.first == "/", !path.contains("\\"), !hasEncodedSeparator(path) else { return nil }
        return removeDotSegments(decodeUnreserved(String(path)))
    }

    /// The common case in one pass over the bytes: an ASCII path (query and fragment cut)
    /// with no `%`, no `\\` and no segment starting with `.` is already normal. Anything
    /// else (nil) takes the full path above, which gives the same answer for these.
    static func plainPath(_ input: String) -> String? {
        let bytes = input.utf8
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        var end = bytes.endIndex
        var previous: UInt8 = 0
        for i in bytes.indices {
            let b = bytes[i]
            if b == UInt8(ascii: "?") || b == UInt8(ascii: "#") {
                end = i
                break
            }
            if b >= 0x80 || b == UInt8(ascii: "%") || b == UInt8(ascii: "\\") { return nil }
            if b == UInt8(ascii: "."), previous == UInt8(ascii: "/") { return nil }
            previous = b
        }
        return end == bytes.endIndex ? input : String(input[..<end])
    }

    static func hasEncodedSeparator<S: StringProtocol>(_ s: S) -> Bool {
        let lower = s.lowercased()
        return lower.contains("%2f") || lower.contains("%5c")
    }

    /// Decodes percent-escapes of unreserved characters (RFC 3986 §6.2.2.2), so `%2e%2e`
    /// is seen as the `..` that the upstream server will see.
    static func decodeUnreserved(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) {
                let c = h << 4 | l
                let isUnreserved = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
                    || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E
                if isUnreserved {
                    out.append(c)
                    i += 3
                    continue
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// RFC 3986 §5.2.4 on an absolute path; the result always starts with `/`.
    static func removeDotSegments(_ path: String) -> String? {
        guard path.first == "/" else { return nil }
        var output: [Substring] = []
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".":
                if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/")
    }
}
