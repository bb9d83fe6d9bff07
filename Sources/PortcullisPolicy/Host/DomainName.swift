/// A host name in canonical form: ASCII lower case, A-labels (punycode) for IDNs, no
/// trailing dot, every label 1–63 characters, at most 253 in all, and not an IPv4 spelling.
///
/// Only `HostParser` (or code that has already validated its text) creates these.
public struct DomainName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The canonical text, e.g. `xn--bcher-kva.example`.
    public let text: String

    /// Wraps text that is already canonical. Callers outside the parser must only pass text
    /// they got from a `DomainName` or from `HostParser`.
    public init(canonical text: String) { self.text = text }

    public var description: String { text }

    /// The labels, left to right.
    public var labels: [Substring] { text.split(separator: ".", omittingEmptySubsequences: false) }

    /// True when `self` is `other` or a name below it.
    public func isSubdomain(of other: DomainName) -> Bool {
        text == other.text || isStrictSubdomain(of: other)
    }

    /// True when `self` is a name strictly below `other` (one or more labels more).
    public func isStrictSubdomain(of other: DomainName) -> Bool {
        text.utf8.count > other.text.utf8.count + 1
            && text.hasSuffix(other.text)
            && text.utf8[text.utf8.index(text.utf8.endIndex, offsetBy: -(other.text.utf8.count + 1))] == UInt8(ascii: ".")
    }

    public static func < (lhs: DomainName, rhs: DomainName) -> Bool { lhs.text < rhs.text }
}
