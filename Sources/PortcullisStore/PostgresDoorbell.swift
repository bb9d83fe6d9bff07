import Foundation
import Logging
import PortcullisModel
import PostgresKit

/// The doorbell of a fleet: one dedicated PostgreSQL connection (not from the pool) that
/// `LISTEN`s on `SQLStore.policyChannel`. A notification is only a hint that something
/// changed; the listener reads the change log by version (FLEET.md, "Propagation").
public struct PostgresDoorbell: Sendable {
    let configuration: PostgresConnection.Configuration
    let logger: Logger

    /// For the same database (and schema) as `SQLStore.postgres(url:schema:…)`.
    public init(url: String, schema: String? = nil, logger: Logger) throws {
        var c = try PostgresBackend.connectionConfiguration(url: url, connectTimeout: .seconds(5))
        if let schema { c.options.additionalStartupParameters = [("search_path", schema)] }
        self.configuration = c
        self.logger = logger
    }

    /// Connects and listens until the connection ends (it throws then) or the task is
    /// cancelled (it returns). `onListening` runs once `LISTEN` is in place — the moment to
    /// catch up, since nothing committed after it is missed; `onRing` gets each payload.
    public func listen(onListening: @Sendable () async -> Void, onRing: @Sendable (String) async -> Void) async throws {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            try await connection.listen(on: SQLStore.policyChannel) { notifications in
                await onListening()
                for try await notification in notifications { await onRing(notification.payload) }
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
        if !Task.isCancelled { throw StoreError(.backend, "the LISTEN connection ended") }
    }
}
