import PortcullisModel
import PortcullisPolicy
import SQLKit

extension SQLStore {
    public func recordPending(sandboxID: String, host: String, port: UInt16?, at time: Timestamp,
                              capacity: Int) async throws -> PendingEntry {
        let id = PendingQueue.id(host: host, port: port)
        let t = time.milliseconds
        return try await transaction { db in
            if try await db.raw("SELECT id FROM sandboxes WHERE id = \(bind: sandboxID)").first() == nil {
                throw StoreError.unknownSandbox(sandboxID)
            }
            // Bump in one statement, so concurrent writers never lose a count.
            if let row = try await db.raw("""
                UPDATE pending SET "count" = "count" + 1,
                last_seen = CASE WHEN last_seen < \(bind: t) THEN \(bind: t) ELSE last_seen END
                WHERE sandbox_id = \(bind: sandboxID) AND id = \(bind: id) RETURNING *
                """).first() {
                return try SQLStore.pendingEntry(from: row)
            }
            let countRow = try await db.raw("SELECT COUNT(*) AS n FROM pending WHERE sandbox_id = \(bind: sandboxID)").first()
            let held = try countRow.map { r throws(StoreError) in try r.column("n", as: Int64.self) } ?? 0
            let excess = held - Int64(max(capacity, 1)) + 1
            if excess > 0 {
                try await db.raw("""
                    DELETE FROM pending WHERE sandbox_id = \(bind: sandboxID) AND id IN (SELECT id FROM pending
                    WHERE sandbox_id = \(bind: sandboxID) ORDER BY last_seen, first_seen, id LIMIT \(bind: excess))
                    """).run()
            }
            try await db.raw("""
                INSERT INTO pending (sandbox_id, id, host, port, "count", first_seen, last_seen) VALUES
                (\(bind: sandboxID), \(bind: id), \(bind: host), \(bind: port.map(Int.init)), 1, \(bind: t), \(bind: t))
                """).run()
            return PendingEntry(id: id, host: host, port: port, count: 1, firstSeen: time, lastSeen: time)
        }
    }

    public func pending(sandboxID: String) async throws -> [PendingEntry] {
        try await run { db in
            try await db.raw("SELECT * FROM pending WHERE sandbox_id = \(bind: sandboxID) ORDER BY last_seen DESC, id")
                .all().map(SQLStore.pendingEntry(from:))
        }
    }

    public func removePending(sandboxID: String, id: String) async throws -> PendingEntry? {
        try await run { db in
            try await db.raw("DELETE FROM pending WHERE sandbox_id = \(bind: sandboxID) AND id = \(bind: id) RETURNING *")
                .first().map(SQLStore.pendingEntry(from:))
        }
    }

    static func pendingEntry(from row: any SQLRow) throws(StoreError) -> PendingEntry {
        let port: Int? = try row.column("port")
        let count: Int64 = try row.column("count")
        return PendingEntry(id: try row.column("id"), host: try row.column("host"),
                            port: try port.map { p throws(StoreError) in
                                guard let p16 = UInt16(exactly: p) else { throw StoreError.corrupt("pending port \(p)") }
                                return p16
                            },
                            count: Int(count), firstSeen: Timestamp(milliseconds: try row.column("first_seen")),
                            lastSeen: Timestamp(milliseconds: try row.column("last_seen")))
    }
}
