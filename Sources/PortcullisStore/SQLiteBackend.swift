import Foundation
import Logging
import PortcullisModel
import SQLiteKit

/// One SQLite connection, used by one caller at a time.
///
/// SQLite has a single writer anyway; one serialised connection keeps every transaction
/// simple (no `SQLITE_BUSY` between our own connections) and WAL lets other processes read.
///
/// Note to maintainers — durability: `synchronous=FULL` in WAL mode syncs the log on every
/// commit, so a change the API has acknowledged survives a power cut. `NORMAL` would only
/// survive a crash of the process, and could lose the last commits on power loss. Audit
/// batches are one transaction each, so FULL costs one sync per batch, not per event; with
/// three audit indexes that still ingests well over 50,000 events/s in batches of 1,000
/// (Benchmarks/StoreBenchmark/RESULTS.md), so there is no reason to trade it for NORMAL.
final class SQLiteBackend: SQLBackend {
    private let connection: SQLiteConnection
    private let database: any SQLDatabase
    private let lock = AsyncSerialLock()

    private init(connection: SQLiteConnection, database: any SQLDatabase) {
        self.connection = connection
        self.database = database
    }

    static func open(path: String, logger: Logger) async throws -> SQLiteBackend {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let database = connection.sql(queryLogLevel: nil)
        for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON",
                       "PRAGMA busy_timeout = 5000"] {
            _ = try await database.raw(SQLQueryString(pragma)).all()
        }
        return SQLiteBackend(connection: connection, database: database)
    }

    func withDatabase<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        await lock.acquire()
        do {
            let result = try await body(database)
            await lock.release()
            return result
        } catch {
            await lock.release()
            throw error
        }
    }

    func close() async throws {
        await lock.acquire()
        do {
            try await connection.close()
            await lock.release()
        } catch {
            await lock.release()
            throw error
        }
    }
}
