/// The opaque `next_cursor` of an audit page: it encodes the id of the last event shown,
/// so the next page starts strictly below it (pages are newest first).
///
/// Added beside the repository protocols so the API can answer 400 to a cursor it did not
/// hand out, before asking the store (which answers an empty page to one).
public struct AuditCursor: Hashable, Sendable, CustomStringConvertible {
    /// The numeric part of the last event's id (`aud_<n>`).
    public let lastID: Int64

    public init(lastID: Int64) { self.lastID = lastID }

    private static let prefix = "c1."

    /// Parses a cursor made by `description`; nil for anything else.
    public init?(parsing text: String) {
        guard text.hasPrefix(AuditCursor.prefix), text.utf8.count <= 20 else { return nil }
        let digits = text.dropFirst(AuditCursor.prefix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLowercase) }),
              let n = Int64(digits, radix: 36), n > 0 else { return nil }
        self.lastID = n
    }

    public var description: String { AuditCursor.prefix + String(lastID, radix: 36) }

    /// The numeric part of an event id `aud_<n>`, or nil when `id` is not one.
    public static func number(ofEventID id: String) -> Int64? {
        guard id.hasPrefix("aud_") else { return nil }
        return Int64(id.dropFirst(4))
    }

    /// The event id for a stored number.
    public static func eventID(_ number: Int64) -> String { "aud_\(number)" }
}
