import Foundation

/// A query parameter of an operation, as the document declares it (generated into
/// `RequestShapes.queries` by scripts/embed-request-shapes).
public struct QueryParameter: Sendable {
    public enum Kind: Sendable {
        /// Checked by the handler (a window, a cursor, a host pattern, an id).
        case text
        /// A whole number; the handler checks the range (`limit must be between 1 and 1000, not 0`).
        case integer(Int, Int)
        /// One of these words.
        case oneOf([String])
        /// An RFC 3339 time.
        case time
    }

    public let name: String
    public let kind: Kind

    public init(_ name: String, _ kind: Kind) {
        self.name = name
        self.kind = kind
    }
}

extension RequestShapes {
    /// The query parameters `method path` declares (none: empty).
    public static func query(method: String, path: String) -> [QueryParameter] {
        queries[method.uppercased() + " " + path] ?? []
    }
}

/// Strict input for query strings, checked before the generated server decodes them (whose
/// own refusals name no parameter): a parameter the operation does not declare is refused,
/// naming it and the one it is close to (`unknown query parameter "acton"; did you mean
/// "action"?`), and a value that is not what the parameter takes is refused naming the
/// parameter and what it takes (`action must be allow, warn, reject or error, not "bogus"`).
/// `wait` is taken everywhere (`?wait=fleet`; FleetWaitMiddleware checks its value).
public enum StrictQuery {
    /// Parameters every operation takes besides its own.
    public static let everywhere = ["wait"]

    /// Checks the query of a request target (the part after `?`, without it). `isTime` says
    /// whether a text is a time the server reads.
    public static func check(_ query: Substring, against parameters: [QueryParameter],
                             isTime: (String) -> Bool) throws(StrictInputError) {
        guard !query.isEmpty else { return }
        for item in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(pair[0])
            let value = pair.count > 1 ? decode(pair[1]) : ""
            guard let parameter = parameters.first(where: { $0.name == name }) else {
                if everywhere.contains(name) { continue }
                throw unknown(name, among: parameters)
            }
            try checkValue(value, of: parameter, isTime: isTime)
        }
    }

    static func checkValue(_ value: String, of p: QueryParameter, isTime: (String) -> Bool) throws(StrictInputError) {
        let shown = StrictBody.quoted(value)
        switch p.kind {
        case .text:
            return
        case .integer(let low, let high):
            guard Int(value) == nil else { return }
            throw StrictInputError("\(p.name) must be a whole number between \(low) and \(high), not \(shown)")
        case .oneOf(let words):
            guard !words.contains(value) else { return }
            let list = words.count == 1 ? words[0] : words.dropLast().joined(separator: ", ") + " or " + words[words.count - 1]
            throw StrictInputError("\(p.name) must be \(list), not \(shown)")
        case .time:
            guard !isTime(value) else { return }
            throw StrictInputError("\(p.name) must be an RFC 3339 time such as 2026-01-02T03:04:05Z, not \(shown)")
        }
    }

    static func unknown(_ name: String, among parameters: [QueryParameter]) -> StrictInputError {
        let head = "unknown query parameter \(StrictBody.quoted(name))"
        let names = parameters.map(\.name)
        if let meant = FieldSuggestion.closest(to: name, among: names + everywhere) {
            return StrictInputError("\(head); did you mean \(StrictBody.quoted(meant))?")
        }
        if names.isEmpty { return StrictInputError("\(head); this operation takes no query parameters") }
        let quoted = names.map(StrictBody.quoted)
        let list = quoted.count == 1 ? quoted[0] : quoted.dropLast().joined(separator: ", ") + " and " + quoted[quoted.count - 1]
        return StrictInputError("\(head); the parameters here are \(list)")
    }

    /// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; a bad
    /// escape is kept as written.
    static func decode(_ s: Substring) -> String {
        let spaced = s.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
