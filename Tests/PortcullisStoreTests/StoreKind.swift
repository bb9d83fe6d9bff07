import Foundation
import Logging
import PortcullisModel
import PortcullisStore
import Testing

/// The backends the contract suite runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    static let postgresURL: String? = {
        let value = ProcessInfo.processInfo.environment["PORTCULLIS_TEST_POSTGRES_URL"]
        return (value?.isEmpty ?? true) ? nil : value
    }()

    /// Every backend that can run here: PostgreSQL only when a server URL is given (the
    /// "PostgreSQL contract tests" test reports the skip otherwise).
    static let available: [StoreKind] = postgresURL == nil ? [.memory, .sqlite] : [.memory, .sqlite, .postgres]

    /// The SQL backends that can run here.
    static let sql: [StoreKind] = available.filter { $0 != .memory }

    static let logger = Logger(label: "portcullis.store.tests")

    /// A fresh, empty store of this kind. Each call gets its own SQLite file or PostgreSQL
    /// schema, so tests running in parallel never see each other's rows.
    func makeStore() async throws -> any Store {
        switch self {
        case .memory:
            return InMemoryStore()
        case .sqlite:
            return try await SQLStore.sqlite(path: StoreKind.temporarySQLitePath(), logger: StoreKind.logger)
        case .postgres:
            guard let url = StoreKind.postgresURL else { throw StoreError(.backend, "no PostgreSQL URL") }
            return try await SQLStore.postgres(url: url, schema: StoreKind.uniqueSchema(), logger: StoreKind.logger)
        }
    }

    static func temporarySQLitePath() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-store-tests-\(UUID().uuidString)")
        return dir.appendingPathComponent("portcullis.sqlite").path
    }

    static func uniqueSchema() -> String {
        "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }
}

/// Runs `body` on a fresh store of `kind` and shuts it down afterwards, even on failure.
func withStore(_ kind: StoreKind, _ body: (any Store) async throws -> Void) async throws {
    let store = try await kind.makeStore()
    do {
        try await body(store)
    } catch {
        try? await store.shutdown()
        throw error
    }
    try await store.shutdown()
}
