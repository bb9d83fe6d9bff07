import Foundation
import NIOPosix
import PortcullisModel
import PortcullisStore
import Testing

/// `serve` on PostgreSQL: a server that cannot be reached fails the start at once, naming
/// where and why, instead of after the pool's minute of retries with no cause.
@Suite("PostgreSQL reachability")
struct PostgresReachabilityTests {
    @Test("A refused connection fails opening within seconds, naming the server and the cause")
    func refusedConnectionFailsFast() async throws {
        let port = try closedLoopbackPort()
        let service = try SQLStore.postgresService(url: "postgres://portcullis@127.0.0.1:\(port)/portcullis?sslmode=disable",
                                                   logger: StoreKind.logger)
        let started = ContinuousClock.now
        // The pool is not running (as when nothing reaches it): without the probe, opening
        // would wait for it; the race below turns that wait into a failure after 40 s. The
        // bound is generous (a refused connection answers in milliseconds; a loaded machine
        // took 6.9 s) and far under the pool's minute.
        let error = await #expect(throws: StoreError.self) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await service.open() }
                group.addTask {
                    try await Task.sleep(for: .seconds(40))
                    throw CancellationError()
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        }
        #expect(ContinuousClock.now - started < .seconds(30))
        let message = "\(error.map { "\($0)" } ?? "")"
        #expect(message.contains("cannot connect to PostgreSQL at 127.0.0.1:\(port)"), "\(message)")
        #expect(message.lowercased().contains("refused"), "\(message)")
    }

    /// A loopback port nothing listens on: bound once, then released.
    private func closedLoopbackPort() throws -> Int {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let channel = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress?.port ?? 1
        try channel.close().wait()
        return port
    }
}
