import PortcullisModel
import PortcullisPolicy
import SQLKit

extension SQLStore {
    static let auditColumns = [
        "time", "tenant_id", "sandbox_id", "client", "via", "host", "sni", "address", "port", "protocol", "method",
        "path", "action", "would_reject", "rule_id", "rejected_by", "reason", "status", "bytes_up", "bytes_down",
        "duration_ms", "policy_version",
    ]

    /// Rows per INSERT: 1,000 × 22 parameters stays well under SQLite's 32,766 and
    /// PostgreSQL's 65,535 bound parameters.
    static let auditRowsPerInsert = 1_000

    public func append(_ events: [AuditEvent]) async throws -> [AuditEvent] {
        guard !events.isEmpty else { return [] }
        let numbers = try await transaction { db in
            var numbers: [Int64] = []
            numbers.reserveCapacity(events.count)
            var start = 0
            while start < events.count {
                let end = min(start + SQLStore.auditRowsPerInsert, events.count)
                var insert = db.insert(into: "audit").columns(SQLStore.auditColumns)
                for e in events[start..<end] { insert = insert.values(SQLStore.auditValues(e)) }
                let rows = try await insert.returning("id").all()
                // Ids come from one sequence in VALUES order; sorting makes that explicit.
                let ids = try rows.map { row throws(StoreError) in try row.column("id", as: Int64.self) }.sorted()
                guard ids.count == end - start else { throw StoreError(.backend, "audit insert returned \(ids.count) ids") }
                numbers += ids
                start = end
            }
            return numbers
        }
        var out = events
        for i in out.indices { out[i].id = AuditCursor.eventID(numbers[i]) }
        return out
    }

    public func query(_ query: AuditQuery) async throws -> AuditPage {
        let upper: Int64?
        switch query.cursorState {
        case .none: upper = nil
        case .below(let n): upper = n
        case .invalid: return AuditPage(items: [], nextCursor: nil)
        }
        let size = query.pageSize
        let rows = try await run { db in
            var select = db.select().column("*").from("audit").where("tenant_id", .equal, query.tenantID)
            if let sandboxID = query.sandboxID { select = select.where("sandbox_id", .equal, sandboxID) }
            if let action = query.action { select = select.where("action", .equal, action) }
            if let host = query.host { select = select.where("host", .equal, host) }
            if let since = query.since { select = select.where("time", .greaterThanOrEqual, since.milliseconds) }
            if let until = query.until { select = select.where("time", .lessThanOrEqual, until.milliseconds) }
            if let upper { select = select.where("id", .lessThan, upper) }
            return try await select.orderBy("id", .descending).limit(size + 1).all()
        }
        var items: [AuditEvent] = []
        var lastNumber: Int64 = 0
        for row in rows.prefix(size) {
            lastNumber = try row.column("id", as: Int64.self)
            items.append(try SQLStore.auditEvent(from: row, number: lastNumber))
        }
        let next = rows.count > size ? AuditCursor(lastID: lastNumber).description : nil
        return AuditPage(items: items, nextCursor: next)
    }

    public func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] {
        let rows = try await run { db in
            try await db.raw("""
                SELECT host, port, COUNT(*) AS n FROM audit WHERE tenant_id = \(bind: tenantID)
                AND sandbox_id = \(bind: sandboxID) AND "time" >= \(bind: since.milliseconds) GROUP BY host, port
                """).all()
        }
        return try rows.map { row throws(StoreError) in
            let port: Int? = try row.column("port")
            let n: Int64 = try row.column("n")
            return Suggestions.Tally(host: try row.column("host"), port: port.flatMap(UInt16.init(exactly:)), count: Int(n))
        }.sortedForOutput()
    }

    public func deleteOlder(than cutoff: Timestamp) async throws -> Int {
        try await transaction { db in
            let row = try await db.raw("SELECT COUNT(*) AS n FROM audit WHERE \"time\" < \(bind: cutoff.milliseconds)").first()
            let n = try row.map { r throws(StoreError) in try r.column("n", as: Int64.self) } ?? 0
            if n > 0 { try await db.raw("DELETE FROM audit WHERE \"time\" < \(bind: cutoff.milliseconds)").run() }
            return Int(n)
        }
    }

    public func count() async throws -> Int {
        try await run { db in
            let row = try await db.raw("SELECT COUNT(*) AS n FROM audit").first()
            return Int(try row.map { r throws(StoreError) in try r.column("n", as: Int64.self) } ?? 0)
        }
    }

    // MARK: Rows

    static func auditValues(_ e: AuditEvent) -> [any Encodable & Sendable] {
        [
            e.time.milliseconds, e.tenantID, e.sandboxID, e.client, e.via, e.host, e.sni, e.address, e.port, e.transport,
            e.method, e.path, e.action, e.wouldReject, e.ruleID, e.rejectedBy, e.reason, e.status, e.bytesUp, e.bytesDown,
            e.durationMs, Int64(bitPattern: e.policyVersion),
        ]
    }

    static func auditEvent(from row: any SQLRow, number: Int64) throws(StoreError) -> AuditEvent {
        AuditEvent(
            id: AuditCursor.eventID(number), time: Timestamp(milliseconds: try row.column("time")),
            tenantID: try row.column("tenant_id"), sandboxID: try row.column("sandbox_id"),
            client: try row.column("client"), via: try row.column("via"), host: try row.column("host"),
            sni: try row.column("sni"), address: try row.column("address"), port: try row.column("port"),
            transport: try row.column("protocol"), method: try row.column("method"), path: try row.column("path"),
            action: try row.column("action"), wouldReject: try row.column("would_reject"),
            ruleID: try row.column("rule_id"), rejectedBy: try row.column("rejected_by"),
            reason: try row.column("reason"), status: try row.column("status"), bytesUp: try row.column("bytes_up"),
            bytesDown: try row.column("bytes_down"), durationMs: try row.column("duration_ms"),
            policyVersion: UInt64(bitPattern: try row.column("policy_version", as: Int64.self)))
    }
}
