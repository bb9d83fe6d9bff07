import Foundation
import PortcullisModel
import PortcullisPolicy
import SQLKit

extension SQLStore {
    /// The channel every node `LISTEN`s on for policy changes.
    public static let policyChannel = "portcullis_policy"
    /// A `NOTIFY` payload must stay under 8,000 bytes; past this the sandbox ids are left out
    /// (the payload is only a hint: nodes always read the change log).
    static let payloadLimit = 4_000

    /// The database's clock in milliseconds, so nodes on different machines compare
    /// heartbeats on one clock.
    static func nowMilliseconds(_ db: any SQLDatabase) -> String {
        db.dialect.name == "postgresql"
            ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
            : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    }

    public func commitPolicyChange(_ scope: PolicyChangeScope, _ writes: @Sendable () async throws -> Void) async throws -> UInt64 {
        let time = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        let store = ObjectIdentifier(self)
        return try await transaction { db in
            // Raising the version first takes the row lock on meta: policy changes of the whole
            // fleet are serialised here and commit in version order, so a reader that sees
            // version N committed also sees every version below it.
            guard let row = try await db.raw(
                "UPDATE meta SET value = value + 1 WHERE key = 'policy_version' RETURNING value").first() else {
                throw StoreError.corrupt("meta has no policy_version")
            }
            let version = try row.column("value", as: Int64.self)
            try await SQLStore.$openTransaction.withValue(OpenTransaction(store: store, database: db)) { try await writes() }
            try await db.raw("""
                INSERT INTO policy_changes (version, tenant_id, sandbox_ids, "time") VALUES
                (\(bind: version), \(bind: scope.tenantID), \(bind: JSONText.encode(scope.sandboxIDs)), \(bind: time))
                """).run()
            if db.dialect.name == "postgresql" {
                // Delivered to every listener when (and only if) this transaction commits.
                try await db.raw("SELECT pg_notify(\(bind: SQLStore.policyChannel), \(bind: SQLStore.payload(version, scope)))").run()
            }
            return UInt64(bitPattern: version)
        }
    }

    /// `{"version":N,"tenant":"tnt_…","sandboxes":["sbx_…"]}`: ids and a number, never data.
    static func payload(_ version: Int64, _ scope: PolicyChangeScope) -> String {
        var fields = ["\"version\":\(version)"]
        if let t = scope.tenantID { fields.append("\"tenant\":\(JSONText.encode([t]).dropFirst().dropLast())") }
        let ids = JSONText.encode(scope.sandboxIDs)
        if !scope.sandboxIDs.isEmpty { fields.append(ids.utf8.count <= payloadLimit ? "\"sandboxes\":\(ids)" : "\"sandboxes\":\"more\"") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    public func policyChanges(after version: UInt64, limit: Int) async throws -> PolicyChangeLog {
        let after = Int64(bitPattern: version)
        return try await run { db in
            let meta = try await db.raw("SELECT value FROM meta WHERE key = 'policy_version'").first()
            guard let meta else { throw StoreError.corrupt("meta has no policy_version") }
            let newest = try meta.column("value", as: Int64.self)
            let oldestRow = try await db.raw("SELECT MIN(version) AS v FROM policy_changes").first()
            let oldest: Int64? = try oldestRow.flatMap { r throws(StoreError) in try r.column("v", as: Int64?.self) }
            let rows = try await db.raw("""
                SELECT version, tenant_id, sandbox_ids, "time" FROM policy_changes WHERE version > \(bind: after)
                ORDER BY version LIMIT \(bind: max(1, limit))
                """).all()
            let changes = try rows.map { r throws(StoreError) in
                PolicyChange(version: UInt64(bitPattern: try r.column("version", as: Int64.self)),
                             scope: PolicyChangeScope(tenantID: try r.column("tenant_id"),
                                                      sandboxIDs: try JSONText.decode(try r.column("sandbox_ids"), column: "sandbox_ids")),
                             time: Timestamp(milliseconds: try r.column("time")))
            }
            // Changes up to `oldest` may have been pruned (or predate the log).
            let incomplete = after < newest && (oldest.map { after < $0 } ?? true)
            return PolicyChangeLog(changes: changes, newestVersion: UInt64(bitPattern: newest), incomplete: incomplete)
        }
    }

    public func pruneChanges(before cutoff: Timestamp) async throws -> Int {
        try await run { db in
            try await db.raw("""
                DELETE FROM policy_changes WHERE "time" < \(bind: cutoff.milliseconds)
                AND version < (SELECT MAX(version) FROM policy_changes) RETURNING version
                """).all().count
        }
    }

    // MARK: Nodes

    public func saveNode(_ node: NodeRecord) async throws {
        try await run { db in
            try await db.raw("""
                INSERT INTO nodes (id, api_address, proxy_address, software_version, started_at, heartbeat_at,
                  applied_policy_version, state)
                VALUES (\(bind: node.id), \(bind: node.apiAddress), \(bind: node.proxyAddress), \(bind: node.softwareVersion),
                  \(bind: node.startedAt.milliseconds), \(unsafeRaw: SQLStore.nowMilliseconds(db)),
                  \(bind: Int64(bitPattern: node.appliedPolicyVersion)), \(bind: node.reportedState.rawValue))
                ON CONFLICT (id) DO UPDATE SET api_address = excluded.api_address, proxy_address = excluded.proxy_address,
                  software_version = excluded.software_version, started_at = excluded.started_at,
                  heartbeat_at = excluded.heartbeat_at, state = excluded.state,
                  applied_policy_version = CASE WHEN nodes.started_at = excluded.started_at
                    AND nodes.applied_policy_version > excluded.applied_policy_version
                    THEN nodes.applied_policy_version ELSE excluded.applied_policy_version END
                """).run()
        }
    }

    public func recordApplied(nodeID: String, version: UInt64) async throws {
        try await run { db in
            try await db.raw("""
                UPDATE nodes SET applied_policy_version = \(bind: Int64(bitPattern: version))
                WHERE id = \(bind: nodeID) AND applied_policy_version < \(bind: Int64(bitPattern: version))
                """).run()
        }
    }

    public func nodes() async throws -> NodeListing {
        try await run { db in
            let clock = try await db.raw("""
                SELECT \(unsafeRaw: SQLStore.nowMilliseconds(db)) AS now, (SELECT value FROM meta WHERE key = 'policy_version') AS version
                """).first()
            guard let clock else { throw StoreError.corrupt("no clock") }
            let rows = try await db.raw("SELECT * FROM nodes ORDER BY id").all()
            let nodes = try rows.map { r throws(StoreError) in
                let state: String = try r.column("state")
                return NodeRecord(
                    id: try r.column("id"), apiAddress: try r.column("api_address"), proxyAddress: try r.column("proxy_address"),
                    softwareVersion: try r.column("software_version"),
                    startedAt: Timestamp(milliseconds: try r.column("started_at")),
                    heartbeatAt: Timestamp(milliseconds: try r.column("heartbeat_at")),
                    appliedPolicyVersion: UInt64(bitPattern: try r.column("applied_policy_version", as: Int64.self)),
                    reportedState: NodeRecord.State(rawValue: state) ?? .syncing)
            }
            return NodeListing(nodes: nodes, now: Timestamp(milliseconds: try clock.column("now", as: Int64.self)),
                               newestPolicyVersion: UInt64(bitPattern: try clock.column("version", as: Int64.self)))
        }
    }

    // MARK: Live tail of the audit log

    public func auditTail(after number: Int64, limit: Int) async throws -> [AuditTailRow] {
        let rows = try await run { db in
            try await db.raw("SELECT * FROM audit WHERE id > \(bind: number) ORDER BY id LIMIT \(bind: max(1, limit))").all()
        }
        return try rows.map { row throws(StoreError) in
            let n = try row.column("id", as: Int64.self)
            return AuditTailRow(number: n, node: try row.column("node"), event: try SQLStore.auditEvent(from: row, number: n))
        }
    }

    public func newestAuditNumber() async throws -> Int64 {
        try await run { db in
            let row = try await db.raw("SELECT MAX(id) AS n FROM audit").first()
            return try row.flatMap { r throws(StoreError) in try r.column("n", as: Int64?.self) } ?? 0
        }
    }
}
