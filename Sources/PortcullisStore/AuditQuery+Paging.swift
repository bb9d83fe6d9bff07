import PortcullisModel
import PortcullisPolicy

extension AuditQuery {
    /// The most events one page returns, whatever `limit` asks.
    static let maxLimit = 10_000

    /// `limit` clamped to 1...maxLimit.
    var pageSize: Int { Swift.min(Swift.max(limit, 1), AuditQuery.maxLimit) }

    /// What the cursor says: no cursor, a valid one, or one this store never handed out
    /// (which gets an empty page; the API validates cursors with `AuditCursor(parsing:)`).
    enum CursorState {
        case none
        case below(Int64)
        case invalid
    }

    var cursorState: CursorState {
        guard let cursor else { return .none }
        guard let parsed = AuditCursor(parsing: cursor) else { return .invalid }
        return .below(parsed.lastID)
    }
}

extension Array where Element == Suggestions.Tally {
    /// Tallies in a stable order (host, then port with "any" first), the same from every backend.
    func sortedForOutput() -> [Suggestions.Tally] {
        sorted { a, b in
            if a.host != b.host { return a.host < b.host }
            return (a.port.map(Int.init) ?? -1) < (b.port.map(Int.init) ?? -1)
        }
    }
}
