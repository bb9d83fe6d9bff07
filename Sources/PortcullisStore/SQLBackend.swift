import Logging
import SQLKit

/// Where `SQLStore`'s queries run. `withDatabase` hands the body one connection for its
/// whole duration, so a transaction begun inside it stays on that connection.
protocol SQLBackend: Sendable {
    func withDatabase<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func close() async throws
}

/// A FIFO lock for async code: one holder at a time, waiters served in arrival order.
actor AsyncSerialLock {
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            held = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
