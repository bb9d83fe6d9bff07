import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import PortcullisGateway
import PortcullisModel
import PortcullisTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// Stops that raced with something else and waited for ever (a test process once hung with
/// every task suspended): each case is run under a watchdog, so a hang fails the test
/// instead of the run.
@Suite struct ShutdownRaceTests {
    /// Whether `body` returns within `limit`; a body that hangs is left behind (the test fails).
    func finishes(within limit: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        let result = OneShot<Bool>()
        Task {
            await body()
            result.set(true)
        }
        Task {
            try? await Task.sleep(for: limit)
            result.set(false)
        }
        return await result.value() ?? false
    }

    /// A listener's service late to bind, after the resources' service released the loops
    /// (its group was cancelled by a sibling's failure): NIO drops what is scheduled on a
    /// loop that has shut down, so the bind it awaited never completed (fails without the
    /// loop leases: the bind hangs).
    @Test func aListenerLateToBindAfterTheLoopsAreReleasedDoesNotWaitForEver() async throws {
        let hostsPath = NSTemporaryDirectory() + "portcullis-hosts-\(UUID().uuidString)"
        try Fixtures.hostsFile.write(toFile: hostsPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: hostsPath) }
        var config = GatewayConfiguration()
        config.httpBind = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        config.hostsFilePath = hostsPath
        config.useSystemResolver = false
        config.eventLoopThreads = 1
        config.drainTimeout = .milliseconds(50)
        let gateway = Gateway(configuration: config, registry: PolicyRegistry(Fixtures.snapshot()),
                              auditRepository: MemoryAuditRepository())
        let opened = try gateway.openResources()
        await gateway.drainAndRelease()
        let ended = await finishes(within: .seconds(5)) {
            try? await gateway.bind(.http, on: opened)
            await gateway.close(.http)
        }
        #expect(ended, "a bind after the loops were released waited for ever")
        #expect(gateway.bound == nil)
    }

    /// The listener that cannot bind cancels its group while the other listener's service is
    /// still binding: the resources' service shut the loops down, then that service closed
    /// its new listener on them and waited for ever (NIO: "Cannot schedule tasks on an
    /// EventLoop that has already shut down"; hung in 2 of 9 runs of
    /// `aListenerThatCannotBindStopsTheWholeGroup` alone on this 2-core machine). Repeated,
    /// each round under a watchdog (20 s: a loaded machine gets room).
    @Test func aGroupCancelledByAFailedBindAlwaysEnds() async throws {
        let hostsPath = NSTemporaryDirectory() + "portcullis-hosts-\(UUID().uuidString)"
        try Fixtures.hostsFile.write(toFile: hostsPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: hostsPath) }
        let taken = try await ServerBootstrap(group: RawClient.group).bind(host: "127.0.0.1", port: 0).get()
        for round in 0..<40 {
            var config = GatewayConfiguration()
            config.httpBind = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
            config.socksBind = taken.localAddress
            config.hostsFilePath = hostsPath
            config.useSystemResolver = false
            config.eventLoopThreads = 1
            let gateway = Gateway(configuration: config, registry: PolicyRegistry(Fixtures.snapshot()),
                                  auditRepository: MemoryAuditRepository())
            let group = ServiceGroup(configuration: .init(services: gateway.services, gracefulShutdownSignals: [],
                                                          logger: Logger(label: "test")))
            let ended = await finishes(within: .seconds(20)) { _ = try? await group.run() }
            #expect(ended, "round \(round): the group never ended")
            if !ended { break }
        }
        try await taken.close()
    }

    /// A drain's wait for the last connection, in a cancelled task (a cancelled service
    /// group): its timer child ends at once, and when the parent ran its cleanup before the
    /// waiting child had registered, that child waited for the next drop to zero — for ever
    /// while a tunnel stays open, and the drain never reached `closeAll()`. The order of the
    /// two children is the scheduler's; a last-in-first-out executor makes it the bad one
    /// every time (fails without the fix: the wait never returns).
    @Test func aCancelledDrainDoesNotWaitForTheLastConnection() async throws {
        let limiter = ConnectionLimiter(maximum: 10, metrics: GatewayMetrics())
        #expect(limiter.acquire())
        let executor = LastInFirstOutExecutor()
        let ended = await finishes(within: .seconds(5)) {
            await Task(executorPreference: executor) {
                withUnsafeCurrentTask { $0?.cancel() }  // cancelled before it waits, as a group's service is
                await limiter.waitUntilEmpty(atMost: .seconds(60))
            }.value
        }
        #expect(ended, "the cancelled drain waited for the open connection")
        limiter.release()
    }

    /// The tests' own wait for an audit entry had the same race: a wait whose deadline
    /// passed (or whose task was cancelled) just as it began stayed registered after its
    /// cleanup and waited for a `notify()` that might never come — a test hung with every
    /// task suspended. On the same executor (fails without `WakeList`: it never returns).
    @Test func aChangeSignalWaitGivenUpBeforeItRegisteredReturns() async throws {
        let signal = ChangeSignal()
        let executor = LastInFirstOutExecutor()
        let ended = await finishes(within: .seconds(5)) {
            await Task(executorPreference: executor) {
                withUnsafeCurrentTask { $0?.cancel() }
                _ = await signal.wait(timeout: .seconds(1)) { false }  // a spin, not a hang, would end in 1 s
            }.value
        }
        #expect(ended, "the wait outlived its cleanup")
    }
}

/// Runs its jobs on one thread of its own, newest first: the opposite of the order in which
/// tasks were made ready, to pin down races that depend on it.
final class LastInFirstOutExecutor: TaskExecutor, @unchecked Sendable {
    private let jobs = Mutex<[UnownedJob]>([])
    private let ready = DispatchSemaphore(value: 0)

    init() {
        // The thread keeps the executor: both live until the test process ends.
        let thread = Thread { [self] in
            while true {
                self.ready.wait()
                guard let job = self.jobs.withLock({ $0.popLast() }) else { continue }
                job.runSynchronously(on: self.asUnownedTaskExecutor())
            }
        }
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        jobs.withLock { $0.append(unowned) }
        ready.signal()
    }
}
