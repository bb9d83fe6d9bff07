import Logging
import ServiceLifecycle
import PortcullisModel
import PortcullisPolicy
import SQLKit
import Synchronization

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
    private let node: Mutex<String?>

    init(backend: any SQLBackend, logger: Logger, nodeID: String? = nil) {
        self.backend = backend
        self.logger = logger
        self.node = Mutex(nodeID)
    }

    /// The node this process is (`serve --node-id`): written with each audit event, so a
    /// node's live stream can tell its own events from the others'.
    public var nodeID: String? { node.withLock { $0 } }

    /// Sets the node id once it is known (the default one needs the API's bound port).
    public func setNodeID(_ id: String) { node.withLock { $0 = id } }

    /// The connection of the policy change `commitPolicyChange` is running on this task, so
    /// the store calls its body makes join that one transaction.
    struct OpenTransaction: Sendable {
        let store: ObjectIdentifier
        let database: any SQLDatabase
    }
    @TaskLocal static var openTransaction: OpenTransaction?

    /// The open transaction's connection when this task is inside this store's `commitPolicyChange`.
    var joinedTransaction: (any SQLDatabase)? {
        guard let open = SQLStore.openTransaction, open.store == ObjectIdentifier(self) else { return nil }
        return open.database
    }

    /// Opens (creating if needed) the SQLite database at `path`, in WAL mode with
    /// `synchronous=FULL`, foreign keys on and a busy timeout, and migrates it.
    public static func sqlite(path: String, logger: Logger, nodeID: String? = nil) async throws -> SQLStore {
        let backend: SQLiteBackend
        do {
            backend = try await SQLiteBackend.open(path: path, logger: logger)
        } catch {
            throw StoreError(.backend, "cannot open SQLite database at \(path): \(error)")
        }
        return try await SQLStore.opened(backend: backend, logger: logger, nodeID: nodeID)
    }

    /// Connects to the PostgreSQL server at `url` and migrates its database.
    public static func postgres(url: String, logger: Logger, nodeID: String? = nil) async throws -> SQLStore {
        try await postgres(url: url, schema: nil, logger: logger, nodeID: nodeID)
    }

    /// Like `postgres(url:logger:)`, working inside `schema` (created if missing): lets tests
    /// and benchmarks share one database without seeing each other's rows.
    public static func postgres(url: String, schema: String?, logger: Logger, nodeID: String? = nil) async throws -> SQLStore {
        let backend: PostgresBackend
        do {
            backend = try await PostgresBackend.open(url: url, schema: schema, logger: logger)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.backend, "cannot connect to PostgreSQL: \(String(reflecting: error))")
        }
        return try await SQLStore.opened(backend: backend, logger: logger, nodeID: nodeID)
    }

    /// PostgreSQL as `serve` runs it: the connection pool as a service for the caller's
    /// `ServiceGroup` (listed first: it starts first and stops last), and `open`, which
    /// migrates and returns the store once that group runs the pool.
    public struct PostgresService: Sendable {
        public let pool: any Service
        public let open: @Sendable () async throws -> SQLStore
    }

    public static func postgresService(url: String, logger: Logger, nodeID: String? = nil) throws -> PostgresService {
        let (pool, backend) = try PostgresBackend.unstarted(url: url, logger: logger)
        return PostgresService(pool: pool, open: {
            try await PostgresBackend.probe(url: url, logger: logger)
            return try await SQLStore.opened(backend: backend, logger: logger, nodeID: nodeID)
        })
    }

    private static func opened(backend: any SQLBackend, logger: Logger, nodeID: String?) async throws -> SQLStore {
        let store = SQLStore(backend: backend, logger: logger, nodeID: nodeID)
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
    /// Inside `commitPolicyChange`, on that change's transaction.
    func run<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            if let db = joinedTransaction { return try await body(db) }
            return try await backend.withDatabase(body)
        } catch let error as StoreError {
            throw error
        } catch let error as any AbandonsPolicyChange {
            throw error
        } catch {
            throw StoreError(.backend, "database error: \(String(reflecting: error))")
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    /// SQLite takes the write lock at the start (`BEGIN IMMEDIATE`), so a transaction that
    /// reads before it writes never fails half-way on a lock upgrade.
    /// Inside `commitPolicyChange`, the body joins that change's transaction.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if joinedTransaction != nil { return try await run(body) }
        return try await run { db in
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
