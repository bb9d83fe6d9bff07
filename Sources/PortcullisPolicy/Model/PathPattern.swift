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
        // The same canonical form as request paths (INSPECTION.md), so a pattern and the
        // path it is meant to cover are compared in one spelling.
        let base: String
        switch CanonicalPath.canonicalize(text.isEmpty ? "/" : text) {
        case .success(let canonical): base = canonical
        case .failure(let refusal):
            throw RuleError("paths: \(Escape.quoted(input)) is not accepted: \(refusal.message)")
        }
        var trimmed = base
        if kind == .prefix, trimmed.hasSuffix("/") { trimmed.removeLast() }
        return PathPattern(kind: kind, base: trimmed)
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

    /// The canonical form of a request's path for comparison (`CanonicalPath`, after
    /// cutting the query and fragment), or nil when the path is ambiguous and refused.
    public static func normalize(requestPath input: String) -> String? {
        var path = Substring(input)
        if let q = path.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { path = path[..<q] }
        return try? CanonicalPath.canonicalize(path).get()
    }

    static func hasEncodedSeparator<S: StringProtocol>(_ s: S) -> Bool {
        let lower = s.lowercased()
        return lower.contains("%2f") || lower.contains("%5c")
    }
}
