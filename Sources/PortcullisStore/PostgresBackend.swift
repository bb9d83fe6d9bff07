import Foundation
import Logging
import PortcullisModel
import NIOCore
import NIOPosix
import NIOSSL
import PostgresKit

/// A pool of PostgreSQL connections (`PostgresClient`). Its `run()` is a service of the
/// caller's group (`unstarted`, as `serve` does), or, from `open`, a task this backend owns
/// and `close` ends (tests and benchmarks).
final class PostgresBackend: SQLBackend {
    private let client: PostgresClient
    private let runTask: Task<Void, Never>?
    private let logger: Logger

    private init(client: PostgresClient, runTask: Task<Void, Never>?, logger: Logger) {
        self.client = client
        self.runTask = runTask
        self.logger = logger
    }

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]`).
    /// With `schema`, every connection works in that schema (created if missing).
    static func open(url: String, schema: String?, logger: Logger) async throws -> PostgresBackend {
        let client = try makeClient(url: url, schema: schema, logger: logger)
        let task = Task { await client.run() }
        let backend = PostgresBackend(client: client, runTask: task, logger: logger)
        do {
            try await backend.createSchema(schema)
        } catch {
            try? await backend.close()
            throw error
        }
        return backend
    }

    /// A backend whose pool someone else runs: `serve` lists the pool (`PostgresClient`, a
    /// `Service`) first in its `ServiceGroup`, so it starts first and stops last.
    static func unstarted(url: String, logger: Logger) throws -> (pool: PostgresClient, backend: PostgresBackend) {
        let client = try makeClient(url: url, schema: nil, logger: logger)
        return (client, PostgresBackend(client: client, runTask: nil, logger: logger))
    }

    private static func makeClient(url: String, schema: String?, logger: Logger) throws -> PostgresClient {
        var configuration = try PostgresBackend.configuration(url: url)
        if let schema {
            guard !schema.isEmpty, schema.utf8.allSatisfy({ b in (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x5F }) else {
                throw StoreError(.backend, "PostgreSQL: " + "schema must be lower-case letters, digits and underscores")
            }
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    private func createSchema(_ schema: String?) async throws {
        guard let schema else { return }
        try await withDatabase { db in try await db.raw("CREATE SCHEMA IF NOT EXISTS \(ident: schema)").run() }
    }

    /// What a `postgres://` URL says, before it becomes a pool's or a connection's configuration.
    struct URLParts: Sendable {
        enum TLSMode: Sendable { case disable, prefer, require }
        let host: String
        let port: Int
        let user: String
        let password: String?
        let database: String?
        let tls: TLSMode
    }

    static func parts(url: String) throws -> URLParts {
        guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme),
              let host = c.host, !host.isEmpty, let user = c.user, !user.isEmpty else {
            throw StoreError(.backend, "PostgreSQL: " + "expected postgres://user[:password]@host[:port]/database")
        }
        let database = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        let mode = c.queryItems?.last(where: { ["sslmode", "tlsmode", "ssl", "tls"].contains($0.name) })?.value ?? "prefer"
        let tls: URLParts.TLSMode
        switch mode {
        case "disable", "false": tls = .disable
        case "prefer", "allow", "true": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        default: throw StoreError(.backend, "PostgreSQL: " + "sslmode must be disable, prefer or require")
        }
        return URLParts(host: host, port: c.port ?? 5432, user: user, password: c.password,
                        database: database.isEmpty ? nil : database, tls: tls)
    }

    static func configuration(url: String) throws -> PostgresClient.Configuration {
        let p = try parts(url: url)
        let tls: PostgresClient.Configuration.TLS
        switch p.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(host: p.host, port: p.port, username: p.user, password: p.password,
                                            database: p.database, tls: tls)
    }

    /// The configuration of one connection outside the pool (the probe's, a fleet's doorbell):
    /// `url`'s parts, its TLS mode as `configuration(url:)` reads it, and `connectTimeout`.
    static func connectionConfiguration(url: String, connectTimeout: TimeAmount) throws -> PostgresConnection.Configuration {
        let p = try parts(url: url)
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch p.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        } catch {
            throw StoreError(.backend, "PostgreSQL: TLS: \(error)")
        }
        var configuration = PostgresConnection.Configuration(host: p.host, port: p.port, username: p.user,
                                                             password: p.password, database: p.database, tls: tls)
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }

    /// Makes one connection to `url` and closes it, before the pool is relied on. An
    /// unreachable server or a refused login then fails within `timeout` with what went
    /// wrong; the pool itself retries with back-off and gives up only after about a minute,
    /// with "circuit breaker tripped" and no cause.
    static func probe(url: String, logger: Logger, timeout: TimeAmount = .seconds(10)) async throws {
        let p = try parts(url: url)
        let configuration = try connectionConfiguration(url: url, connectTimeout: timeout)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        } catch {
            throw StoreError(.backend, "cannot connect to PostgreSQL at \(p.host):\(p.port): \(reason(error))")
        }
        try? await connection.close()
    }

    /// What went wrong, in words (a `PSQLError`'s own description hides its cause).
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] { return message }
        if let underlying = error.underlying {
            var cause = underlying
            if let connect = underlying as? NIOConnectionError, let first = connect.connectionErrors.first {
                cause = first.error
            }
            if let io = cause as? IOError { return String(cString: strerror(io.errnoCode)) }
            return "\(cause)"
        }
        return error.code.description
    }

    func withDatabase<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await client.withConnection { connection in
            try await body(connection.sql(queryLogLevel: nil, logger: logger))
        }
    }

    /// Ends the pool this backend runs itself (`open`); a scoped one ends with its scope.
    func close() async throws {
        guard let runTask else { return }
        runTask.cancel()
        await runTask.value
    }
}
