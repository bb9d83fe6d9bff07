import PortcullisModel
import PortcullisPolicy
import PostgresKit
import SQLiteKit
import SQLKit

extension SQLStore {
    static let auditColumns = [
        "time", "tenant_id", "sandbox_id", "client", "via", "host", "sni", "address", "port", "protocol", "method",
        "path", "action", "would_reject", "rule_id", "rejected_by", "reason", "status", "bytes_up", "bytes_down",
        "duration_ms", "policy_version", "node", "terminated", "credential",
    ]

    /// Rows per SQLite INSERT: 1,000 × 25 parameters stays under SQLite's 32,766.
    static let auditRowsPerInsert = 1_000

    /// Writes the batch in one transaction and returns it with ids. SQLite gets multi-row
    /// INSERTs with the values bound directly as `SQLiteData`; PostgreSQL gets one
    /// `INSERT … SELECT FROM UNNEST(…)` with each column bound as one array, so 25
    /// parameters per batch instead of 25 per event.
    public func append(_ events: [AuditEvent]) async throws -> [AuditEvent] {
        guard !events.isEmpty else { return [] }
        let numbers = try await transaction { db in
            let numbers: [Int64]
            if db.dialect.name == "postgresql" {
                numbers = try await SQLStore.insertPostgres(events, node: self.nodeID, on: db)
            } else {
                numbers = try await SQLStore.insertSQLite(events, node: self.nodeID, on: db)
            }
            guard numbers.count == events.count else {
                throw StoreError(.backend, "audit insert returned \(numbers.count) ids for \(events.count) events")
            }
            return numbers
        }
        var out = events
        for i in out.indices { out[i].id = AuditCursor.eventID(numbers[i]) }
        return out
    }

    /// Within `BEGIN IMMEDIATE` this connection is the only writer, and AUTOINCREMENT gives the
    /// rows of one INSERT consecutive rowids in VALUES order, ending at `last_insert_rowid()`.
    static func insertSQLite(_ events: [AuditEvent], node: String?, on db: any SQLDatabase) async throws -> [Int64] {
        var numbers: [Int64] = []
        numbers.reserveCapacity(events.count)
        var start = 0
        while start < events.count {
            let end = min(start + auditRowsPerInsert, events.count)
            try await db.execute(sql: SQLiteAuditInsert(events: events[start..<end], node: node)) { _ in }
            let row = try await db.raw("SELECT last_insert_rowid() AS last, changes() AS n").first()
            guard let row else { throw StoreError(.backend, "audit insert: no last_insert_rowid") }
            let last = try row.column("last", as: Int64.self), n = try row.column("n", as: Int64.self)
            guard n == Int64(end - start) else { throw StoreError(.backend, "audit insert wrote \(n) rows") }
            numbers += (last - n + 1)...last
            start = end
        }
        return numbers
    }

    /// Ids come from the identity sequence in UNNEST order (other sessions may take numbers
    /// in between, so they need not be consecutive); sorting makes that order explicit.
    static func insertPostgres(_ events: [AuditEvent], node: String?, on db: any SQLDatabase) async throws -> [Int64] {
        func strings(_ f: (AuditEvent) -> String) -> [String] { events.map(f) }
        func optionals<T: PostgresArrayEncodable & Encodable & Sendable>(_ f: (AuditEvent) -> T?) -> PostgresNullableArray<T> { .init(elements: events.map(f)) }
        let rows = try await db.raw("""
            INSERT INTO audit ("time", tenant_id, sandbox_id, client, via, host, sni, address, port, protocol, method,
              path, action, would_reject, rule_id, rejected_by, reason, status, bytes_up, bytes_down, duration_ms,
              policy_version, node, terminated, credential)
            SELECT * FROM UNNEST(\(bind: events.map(\.time.milliseconds)), \(bind: optionals(\.tenantID)),
              \(bind: optionals(\.sandboxID)), \(bind: strings(\.client)), \(bind: events.map(\.via.rawValue)),
              \(bind: strings(\.host)), \(bind: optionals(\.sni)), \(bind: optionals(\.address)),
              \(bind: optionals(\.port)), \(bind: strings(\.transport)), \(bind: optionals(\.method)),
              \(bind: optionals(\.path)), \(bind: events.map(\.action.rawValue)), \(bind: events.map(\.wouldReject)),
              \(bind: optionals(\.ruleID)), \(bind: optionals(\.rejectedBy)), \(bind: strings(\.reason)),
              \(bind: optionals(\.status)), \(bind: events.map(\.bytesUp)), \(bind: events.map(\.bytesDown)),
              \(bind: events.map(\.durationMs)), \(bind: events.map { Int64(bitPattern: $0.policyVersion) }),
              \(bind: PostgresNullableArray<String>(elements: events.map { _ in node })),
              \(bind: events.map(\.terminated)), \(bind: optionals(\.credential)))
            RETURNING id
            """).all()
        return try rows.map { row throws(StoreError) in try row.column("id", as: Int64.self) }.sorted()
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

    static func sqliteValues(_ e: AuditEvent, node: String?) -> [SQLiteData] {
        func text(_ s: String?) -> SQLiteData { s.map(SQLiteData.text) ?? .null }
        func int(_ i: Int?) -> SQLiteData { i.map { .integer(SQLiteInt64($0)) } ?? .null }
        return [
            .integer(SQLiteInt64(e.time.milliseconds)), text(e.tenantID), text(e.sandboxID), .text(e.client), .text(e.via.rawValue),
            .text(e.host), text(e.sni), text(e.address), int(e.port), .text(e.transport), text(e.method), text(e.path),
            .text(e.action.rawValue), .integer(e.wouldReject ? 1 : 0), text(e.ruleID), text(e.rejectedBy), .text(e.reason),
            int(e.status), .integer(SQLiteInt64(e.bytesUp)), .integer(SQLiteInt64(e.bytesDown)), .integer(SQLiteInt64(e.durationMs)),
            .integer(SQLiteInt64(Int64(bitPattern: e.policyVersion))), text(node), .integer(e.terminated ? 1 : 0),
            text(e.credential),
        ]
    }

    static func auditEvent(from row: any SQLRow, number: Int64) throws(StoreError) -> AuditEvent {
        var event = AuditEvent(
            id: AuditCursor.eventID(number), time: Timestamp(milliseconds: try row.column("time")),
            tenantID: try row.column("tenant_id"), sandboxID: try row.column("sandbox_id"),
            client: try row.column("client"), via: AuditVia(rawValue: try row.column("via")) ?? .http, host: try row.column("host"),
            sni: try row.column("sni"), address: try row.column("address"), port: try row.column("port"),
            transport: try row.column("protocol"), method: try row.column("method"), path: try row.column("path"),
            action: AuditAction(rawValue: try row.column("action")) ?? .error, wouldReject: try row.column("would_reject"),
            ruleID: try row.column("rule_id"), rejectedBy: try row.column("rejected_by"),
            reason: try row.column("reason"), status: try row.column("status"), bytesUp: try row.column("bytes_up"),
            bytesDown: try row.column("bytes_down"), durationMs: try row.column("duration_ms"),
            policyVersion: UInt64(bitPattern: try row.column("policy_version", as: Int64.self)))
        event.terminated = try row.column("terminated")
        event.credential = try row.column("credential")
        return event
    }
}

/// `INSERT INTO audit (…) VALUES (…), (…)` with every value bound as ready-made `SQLiteData`
/// (no `Encodable` round trip per value).
struct SQLiteAuditInsert: SQLExpression {
    let events: ArraySlice<AuditEvent>
    let node: String?

    func serialize(to serializer: inout SQLSerializer) {
        serializer.write("INSERT INTO audit (")
        serializer.write(SQLStore.auditColumns.map { "\"\($0)\"" }.joined(separator: ", "))
        serializer.write(") VALUES ")
        var firstRow = true
        for e in events {
            serializer.write(firstRow ? "(" : ", (")
            firstRow = false
            var first = true
            for value in SQLStore.sqliteValues(e, node: node) {
                if !first { serializer.write(", ") }
                first = false
                serializer.write(bind: SQLiteBoundValue(value))
            }
            serializer.write(")")
        }
    }
}

/// A value SQLiteKit binds as-is: `SQLiteDataEncoder` takes `SQLiteDataConvertible` values
/// on its fast path.
struct SQLiteBoundValue: SQLiteDataConvertible, Encodable, Sendable {
    let sqliteData: SQLiteData?

    init(_ data: SQLiteData) { sqliteData = data }
    init?(sqliteData: SQLiteData) { self.sqliteData = sqliteData }

    func encode(to encoder: any Encoder) throws { try sqliteData.encode(to: encoder) }
}
