/// The Public Suffix List (from Debian's `publicsuffix` package, refreshed by
/// `scripts/refresh-public-suffix-list`), compiled once on first use.
///
/// The algorithm (https://publicsuffix.org/list/, "Formal algorithm"):
///
///     1. Match domain against all rules and take note of the matching ones.
///     2. If no rules match, the prevailing rule is "*".
///     3. If more than one rule matches, the prevailing rule is the one which is an
///        exception rule.
///     4. If there is no matching exception rule, the prevailing rule is the one with
///        the most labels.
///     5. If the prevailing rule is a exception rule, modify it by removing the
///        leftmost label.
///     6. The public suffix is the set of labels from the domain which match the
///        labels of the prevailing rule, using the matching algorithm above.
///     7. The registered or registrable domain is the public suffix plus one
///        additional label.
///
/// So an unknown TLD (`internal`, `corp`) is a public suffix through the default rule.
public struct PublicSuffixList: Sendable {
    /// The list shipped with Portcullis (parsed on first use).
    public static let shipped = PublicSuffixList(rules: rulesText)

    /// Which section a rule came from.
    enum Section: Sendable {
        case icann
        case privateDomains
    }

    /// `com`, `co.uk`: the rule text → its section.
    let normal: [String: Section]
    /// `*.ck` stored as `ck`.
    let wildcard: [String: Section]
    /// `!www.ck` stored as `www.ck`.
    let exception: [String: Section]

    init() { self.init(rules: "") }

    /// Parses rules in the format of `rulesText`: one rule a line, a `!!private` line
    /// before the PRIVATE section. IDN rules are converted to A-labels here. (Public for
    /// `portcullis-policy-bench`, which times parsing the shipped list.)
    public init(rules text: String) {
        var normal: [String: Section] = [:]
        var wildcard: [String: Section] = [:]
        var exception: [String: Section] = [:]
        normal.reserveCapacity(10_000)
        var section = Section.icann
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line == "!!private" {
                section = .privateDomains
                continue
            }
            let rule = PublicSuffixList.asciiRule(line)
            // A rule in both sections counts as ICANN (never seen in practice).
            if rule.hasPrefix("!") {
                PublicSuffixList.insert(String(rule.dropFirst()), section, into: &exception)
            } else if rule.hasPrefix("*.") {
                PublicSuffixList.insert(String(rule.dropFirst(2)), section, into: &wildcard)
            } else {
                PublicSuffixList.insert(String(rule), section, into: &normal)
            }
        }
        self.normal = normal
        self.wildcard = wildcard
        self.exception = exception
    }

    private static func insert(_ key: String, _ section: Section, into table: inout [String: Section]) {
        switch table[key] {
        case .icann?: return
        case .privateDomains?, nil: table[key] = section
        }
    }

    /// The rule with IDN labels as lower-case A-labels (the list writes them in Unicode).
    private static func asciiRule(_ line: Substring) -> Substring {
        guard line.utf8.contains(where: { $0 >= 0x80 }) else { return line }
        let labels = line.lowercased().split(separator: ".", omittingEmptySubsequences: false).map { label -> String in
            guard label.utf8.contains(where: { $0 >= 0x80 }), let encoded = Punycode.encode(Array(label.unicodeScalars)) else {
                return String(label)
            }
            return "xn--" + encoded
        }
        return Substring(labels.joined(separator: "."))
    }

    /// True when `name` is itself a public suffix. With `icannOnly`, only the ICANN section
    /// counts (the private section lists names such as `github.io` and `googleapis.com`).
    public func isPublicSuffix(_ name: DomainName, icannOnly: Bool) -> Bool {
        publicSuffixStart(of: name.text, icannOnly: icannOnly) == name.text.utf8.startIndex
    }

    /// True when a rule of the list itself (not the default rule `*`) makes `name` a public
    /// suffix: `com`, `co.uk`, `foo.ck` (through `*.ck`) are; `internal`, `corp`, `lan` are
    /// not. Wildcard patterns are refused over listed suffixes only, so operators can write
    /// `*.internal` or `*.corp` for their private names.
    public func isListedPublicSuffix(_ name: DomainName, icannOnly: Bool) -> Bool {
        let text = name.text
        if counts(exception[text], icannOnly) { return false }
        if counts(normal[text], icannOnly) { return true }
        guard let dot = text.utf8.firstIndex(of: UInt8(ascii: ".")) else { return false }
        return counts(wildcard[String(text[text.utf8.index(after: dot)...])], icannOnly)
    }

    /// The registrable domain (public suffix plus one label) of `name`, using both sections,
    /// or nil when `name` is itself a public suffix.
    public func registrableDomain(of name: DomainName) -> DomainName? {
        let text = name.text
        let utf8 = text.utf8
        let suffixStart = publicSuffixStart(of: text, icannOnly: false)
        guard suffixStart != utf8.startIndex else { return nil }
        var start = utf8.index(before: suffixStart)  // the dot before the suffix
        while start != utf8.startIndex {
            let previous = utf8.index(before: start)
            if utf8[previous] == UInt8(ascii: ".") { break }
            start = previous
        }
        return DomainName(canonical: String(text[start...]))
    }

    /// Where the public suffix of `text` starts (an index into its UTF-8 view).
    func publicSuffixStart(of text: String, icannOnly: Bool) -> String.Index {
        let utf8 = text.utf8
        // Label starts from the left; the suffix starting at label i is text[starts[i]...].
        var starts: [String.Index] = [utf8.startIndex]
        var i = utf8.startIndex
        while i != utf8.endIndex {
            if utf8[i] == UInt8(ascii: ".") { starts.append(utf8.index(after: i)) }
            i = utf8.index(after: i)
        }
        // The default rule "*": the last label.
        var best = starts[starts.count - 1]
        var bestLabels = 1
        for (k, start) in starts.enumerated() {
            let suffix = String(text[start...])
            let labels = starts.count - k
            if counts(exception[suffix], icannOnly) {
                // An exception prevails; its public suffix drops the leftmost label.
                return k + 1 < starts.count ? starts[k + 1] : utf8.endIndex
            }
            if labels > bestLabels {
                if counts(normal[suffix], icannOnly) {
                    best = start
                    bestLabels = labels
                } else if k + 1 < starts.count, counts(wildcard[String(text[starts[k + 1]...])], icannOnly) {
                    best = start
                    bestLabels = labels
                }
            }
        }
        return best
    }

    private func counts(_ section: Section?, _ icannOnly: Bool) -> Bool {
        switch section {
        case nil: return false
        case .icann?: return true
        case .privateDomains?: return !icannOnly
        }
    }
}
