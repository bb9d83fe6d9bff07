import Logging
import PortcullisModel
import PortcullisPolicy
import SQLKit

/// The `Store` over SQL: one set of SQLKit queries that runs on SQLite (a file, for a single
/// gateway) or PostgreSQL (for several). Open one with `sqlite(path:logger:)` or
/// `postgres(url:logger:)`; both apply the schema migrations before returning.
///
/// Every change that touches more than one row runs in one transaction. Errors from the
/// database come out as `StoreError(.backend, …)`; taken names and addresses as
/// `StoreError(.conflict, …)`, with the same messages as `InMemoryStore`.
public final class SQLStore: Store {
    let backend: any SQLBackend
    let logger: Logger

    init(backend: any SQLBackend, logger: Logger) {
        self.backend = backend
        self.logger = logger
    }

    /// Opens (creating if needed) the SQLite database at `path`, in WAL mode with
    /// `synchronous=FULL`, foreign keys on and a busy timeout, and migrates it.
    public static func sqlite(path: String, logger: Logger) async throws -> SQLStore {
        let backend: SQLiteBackend
        do {
            backend = try await SQLiteBackend.open(path: path, logger: logger)
        } catch {
            throw StoreError(.backend, "cannot open SQLite database at \(path): \(error)")
        }
        return try await SQLStore.opened(backend: backend, logger: logger)
    }

    /// Connects to the PostgreSQL server at `url` and migrates its database.
    public static func postgres(url: String, logger: Logger) async throws -> SQLStore {
        try await postgres(url: url, schema: nil, logger: logger)
    }

    /// Like `postgres(url:logger:)`, working inside `schema` (created if missing): lets tests
    /// and benchmarks share one database without seeing each other's rows.
    public static func postgres(url: String, schema: String?, logger: Logger) async throws -> SQLStore {
        let backend: PostgresBackend
        do {
            backend = try await PostgresBackend.open(url: url, schema: schema, logger: logger)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.backend, "cannot connect to PostgreSQL: \(String(reflecting: error))")
        }
        return try await SQLStore.opened(backend: backend, logger: logger)
    }

    private static func opened(backend: any SQLBackend, logger: Logger) async throws -> SQLStore {
        let store = SQLStore(backend: backend, logger: logger)
        do {
            try await store.run { db in try await SQLMigrations.apply(on: db, logger: logger) }
        } catch {
            try? await backend.close()
            throw error
        }
        return store
    }

    public func shutdown() async throws {
        do { try await backend.close() } catch { throw StoreError(.backend, "closing the database: \(error)") }
    }

    // MARK: Running queries

    /// Runs `body` on one connection, outside a transaction (for single statements and reads).
    func run<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await backend.withDatabase(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.backend, "database error: \(String(reflecting: error))")
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    /// SQLite takes the write lock at the start (`BEGIN IMMEDIATE`), so a transaction that
    /// reads before it writes never fails half-way on a lock upgrade.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await run { db in
            try await db.raw(db.dialect.name == "sqlite" ? "BEGIN IMMEDIATE" : "BEGIN").run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    // MARK: Policy version

    public func policyVersion() async throws -> UInt64 {
        try await run { db in
            let row = try await db.raw("SELECT value FROM meta WHERE key = 'policy_version'").first()
            guard let row else { throw StoreError.corrupt("meta has no policy_version") }
            return UInt64(bitPattern: try row.column("value", as: Int64.self))
        }
    }

    public func bumpPolicyVersion() async throws -> UInt64 {
        try await run { db in
            let row = try await db.raw(
                "UPDATE meta SET value = value + 1 WHERE key = 'policy_version' RETURNING value").first()
            guard let row else { throw StoreError.corrupt("meta has no policy_version") }
            return UInt64(bitPattern: try row.column("value", as: Int64.self))
        }
    }
}

extension SQLRow {
    /// A column's value, or `StoreError(.backend, …)` naming the column when it does not decode.
    func column<T: Decodable>(_ name: String, as type: T.Type = T.self) throws(StoreError) -> T {
        do {
            return try decode(column: name, as: T.self)
        } catch {
            throw StoreError.corrupt("column \(name): \(error)")
        }
    }
}
