import Foundation
import PortcullisControl
import PortcullisPolicy

/// The query parameters' bounds from the document (the generated server checks types and
/// enums, not lengths or ranges), refused with 400 and the parameter's name.
enum QueryBounds {
    static func limit(_ value: Int?) throws -> Int {
        guard let value else { return 100 }
        guard (1...1000).contains(value) else { throw ControlError.badRequest("limit must be between 1 and 1000, not \(value)") }
        return value
    }

    /// A string parameter of 1 to `max` characters (counted as JSON Schema counts them, in code points).
    static func text(_ name: String, _ value: String?, max: Int) throws -> String? {
        guard let value else { return nil }
        guard !value.isEmpty, value.unicodeScalars.count <= max else {
            throw ControlError.badRequest("\(name) must be 1 to \(max) characters")
        }
        return value
    }

}

/// Pages a list held whole in memory (the pending queue, tenants) the way every list of
/// the API pages: `limit` items, and a `next_cursor` unless this is the last page. The
/// cursor is the sort key of the page's last item, so a page resumes after it even when
/// items before it were removed in between.
enum ListPage {
    /// `items` in list order; `key` must increase strictly along that order.
    static func page<T>(_ items: [T], limit: Int, cursor: String?, key: (T) -> String) -> (items: [T], nextCursor: String?) {
        let keyed = items.map { (key($0), $0) }.sorted { $0.0 < $1.0 }
        let rest = cursor.map { c in keyed.drop { $0.0 <= c } } ?? keyed[...]
        let page = rest.prefix(limit)
        let next = rest.count > page.count ? page.last?.0 : nil
        return (page.map(\.1), next)
    }

    /// The pending queue's key: most recently seen first, then by id.
    static func pendingKey(_ entry: PendingEntry) -> String {
        let newestFirst = UInt64(bitPattern: Int64.max) &- UInt64(bitPattern: max(0, entry.lastSeen.milliseconds))
        let digits = String(newestFirst)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + entry.id
    }
}
