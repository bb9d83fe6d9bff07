import Logging
import SQLKit

/// Where `SQLStore`'s queries run. `withDatabase` hands the body one connection for its
/// whole duration, so a transaction begun inside it stays on that connection.
protocol SQLBackend: Sendable {
    func withDatabase<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func close() async throws
}
