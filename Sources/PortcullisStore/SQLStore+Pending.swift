import PortcullisModel
import PortcullisPolicy
import SQLKit

/// Note to maintainers: the `pending.id` column holds `PendingQueue.key(host:port:)`, the
/// per-sandbox key a rejection bumps; the id the API shows is derived from it, the sandbox
/// and `first_seen` (`PendingQueue.entryID`), so it is unique per entry without a column
/// of its own.
extension SQLStore {
    public func addPending(sandboxID: String, host: String, port: UInt16?, at time: Timestamp,
                           capacity: Int) async throws -> (entry: PendingEntry, evicted: Int) {
        let id = PendingQueue.key(host: host, port: port)
        let t = time.milliseconds
        return try await transaction { db in
            if try await db.raw("SELECT id FROM sandboxes WHERE id = \(bind: sandboxID)").first() == nil {
                throw StoreError.unknownSandbox(sandboxID)
            }
            // One statement per bump, insert or count: writers on several nodes at once never
            // lose a count, and never collide on the key.
            guard let row = try await db.raw("""
                INSERT INTO pending (sandbox_id, id, host, port, "count", first_seen, last_seen) VALUES
                (\(bind: sandboxID), \(bind: id), \(bind: host), \(bind: port.map(Int.init)), 1, \(bind: t), \(bind: t))
                ON CONFLICT (sandbox_id, id) DO UPDATE SET "count" = pending."count" + 1,
                last_seen = CASE WHEN pending.last_seen < excluded.last_seen THEN excluded.last_seen ELSE pending.last_seen END
                RETURNING *
                """).first() else { throw StoreError(.backend, "pending upsert returned no row") }
            let entry = try SQLStore.pendingEntry(from: row, sandboxID: sandboxID)
            var evicted = 0
            if entry.count == 1 {
                // A new entry: keep the queue within its capacity, least recently seen out first.
                let all = db.dialect.name == "postgresql" ? "ALL" : "-1"
                evicted = try await db.raw("""
                    DELETE FROM pending WHERE sandbox_id = \(bind: sandboxID) AND id IN (SELECT id FROM pending
                    WHERE sandbox_id = \(bind: sandboxID) AND id <> \(bind: id) ORDER BY last_seen DESC, first_seen DESC, id DESC
                    LIMIT \(unsafeRaw: all) OFFSET \(bind: max(capacity, 1) - 1)) RETURNING id
                    """).all().count
            }
            return (entry, evicted)
        }
    }

    public func pending(sandboxID: String) async throws -> [PendingEntry] {
        try await run { db in
            try await db.raw("SELECT * FROM pending WHERE sandbox_id = \(bind: sandboxID) ORDER BY last_seen DESC, id")
                .all().map { row throws(StoreError) in try SQLStore.pendingEntry(from: row, sandboxID: sandboxID) }
        }
    }

    public func removePending(sandboxID: String, id: String) async throws -> PendingEntry? {
        guard let entry = try await pending(sandboxID: sandboxID).first(where: { $0.id == id }) else { return nil }
        let key = PendingQueue.key(host: entry.host, port: entry.port)
        return try await run { db in
            try await db.raw("DELETE FROM pending WHERE sandbox_id = \(bind: sandboxID) AND id = \(bind: key) RETURNING *")
                .first().map { row throws(StoreError) in try SQLStore.pendingEntry(from: row, sandboxID: sandboxID) }
        }
    }

    static func pendingEntry(from row: any SQLRow, sandboxID: String) throws(StoreError) -> PendingEntry {
        let port: Int? = try row.column("port")
        let count: Int64 = try row.column("count")
        let firstSeen = Timestamp(milliseconds: try row.column("first_seen"))
        return PendingEntry(id: PendingQueue.entryID(sandboxID: sandboxID, key: try row.column("id"), firstSeen: firstSeen),
                            host: try row.column("host"),
                            port: try port.map { p throws(StoreError) in
                                guard let p16 = UInt16(exactly: p) else { throw StoreError.corrupt("pending port \(p)") }
                                return p16
                            },
                            count: Int(count), firstSeen: firstSeen, lastSeen: Timestamp(milliseconds: try row.column("last_seen")))
    }
}
