import Foundation
import NIOCore
@testable import PortcullisGateway
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy
import NIOPosix
import PortcullisTestSupport
import Synchronization
import Testing

@Suite struct HostsFileTests {
    @Test func readsIPv4AndIPv6AndCanonicalisesNames() {
        let hosts = HostsFile(parsing: """
            # comment
            127.0.0.1   Allowed.Test  alias.test # trailing
            ::1         allowed.test
            not-an-ip   broken.test
            10.0.0.1
            """)
        let name = DomainName(canonical: "allowed.test")
        #expect(hosts.addresses(for: name) == [.v4(IPv4Address(127, 0, 0, 1)), .v6(IPv6Address(1))])
        #expect(hosts.addresses(for: DomainName(canonical: "alias.test")) == [.v4(IPv4Address(127, 0, 0, 1))])
        #expect(hosts.addresses(for: DomainName(canonical: "broken.test")) == nil)
    }
}

/// An audit store that can be told to stall or fail.
final class GatedAuditRepository: AuditRepository {
    let inner = MemoryAuditRepository()
    let stalled = Mutex(true)
    let failuresLeft = Mutex(0)

    func append(_ batch: [AuditEvent]) async throws -> [AuditEvent] {
        while stalled.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        let fail = failuresLeft.withLock { n -> Bool in
            guard n > 0 else { return false }
            n -= 1
            return true
        }
        if fail { throw CancellationError() }
        return try await inner.append(batch)
    }
    func query(_ query: AuditQuery) async throws -> AuditPage { try await inner.query(query) }
    func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] { [] }
    func deleteOlder(than cutoff: Timestamp) async throws -> Int { 0 }
    func count() async throws -> Int { try await inner.count() }
}

func event(_ n: Int, pending: Bool = false) -> AuditEvent {
    var e = AuditEvent(time: Timestamp(milliseconds: Int64(n)), tenantID: "t", sandboxID: "s", client: "c", via: .http,
                       host: "h\(n).test", port: 80, action: pending ? .reject : .allow, reason: "r", policyVersion: 1)
    e.joinsPending = pending
    return e
}

@Suite struct AuditQueueTests {
    @Test func batchesEverythingAndHandsPendingRejectionsOn() async throws {
        let repo = MemoryAuditRepository()
        let pending = Mutex<[String]>([])
        let queue = AuditQueue(repository: repo, capacity: 100, batchSize: 7,
                               pendingRecorder: { e in pending.withLock { $0.append(e.host) } })
        // The writer and the pending recorder, each its own consumer.
        let writer = Task { await queue.runWriters() }
        for i in 0..<50 { queue.submit(event(i, pending: i % 10 == 0)) }
        await queue.drain()
        await writer.value
        #expect(repo.all.map(\.host) == (0..<50).map { "h\($0).test" })
        #expect(pending.withLock { $0 } == ["h0.test", "h10.test", "h20.test", "h30.test", "h40.test"])
    }

    @Test func aSlowPendingRecorderNeverHoldsTheAuditWriter() async throws {
        let repo = MemoryAuditRepository()
        let release = AsyncStream<Void>.makeStream()
        let queue = AuditQueue(repository: repo, capacity: 100, batchSize: 5, pendingRecorder: { _ in
            for await _ in release.stream { break }  // blocked until the test lets it go
        })
        let writers = Task { await queue.runWriters() }
        for i in 0..<40 { queue.submit(event(i, pending: true)) }
        // Every event is written while the recorder is still stuck on the first one.
        for _ in 0..<200 where repo.all.count < 40 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(repo.all.count == 40)
        release.continuation.finish()
        await queue.drain()
        await writers.value
    }

    @Test func oneSandboxFloodingPendingEntriesCannotCrowdOutAnother() async throws {
        let repo = MemoryAuditRepository()
        let release = AsyncStream<Void>.makeStream()
        let recorded = Mutex<[String: Int]>([:])
        let queue = AuditQueue(repository: repo, capacity: 5_000, batchSize: 256, pendingRecorder: { e in
            if e.host == "first.test" { for await _ in release.stream { break } }  // stuck until let go
            recorded.withLock { $0[e.sandboxID ?? "", default: 0] += 1 }
        })
        let writers = Task { await queue.runWriters() }
        func pendingEvent(_ sandbox: String, _ host: String) -> AuditEvent {
            var e = event(0, pending: true)
            e.sandboxID = sandbox
            e.host = host
            return e
        }
        queue.submit(pendingEvent("sbx_flood", "first.test"))
        for i in 0..<(AuditQueue.pendingSharePerSandbox + 500) { queue.submit(pendingEvent("sbx_flood", "f\(i).test")) }
        for i in 0..<20 { queue.submit(pendingEvent("sbx_quiet", "q\(i).test")) }
        for _ in 0..<500 where repo.all.count < AuditQueue.pendingSharePerSandbox + 521 { try await Task.sleep(for: .milliseconds(10)) }
        release.continuation.finish()
        await queue.drain()
        await writers.value
        let counts = recorded.withLock { $0 }
        #expect(counts["sbx_quiet"] == 20, "every entry of the quiet sandbox is recorded: \(counts)")
        #expect(counts["sbx_flood"] == AuditQueue.pendingSharePerSandbox, "the flood keeps its share: \(counts)")
        #expect(repo.all.count == AuditQueue.pendingSharePerSandbox + 521, "every audit line is kept")
    }

    @Test func aFullQueueSignalsPressureUntilItDrainsAndNeverDropsBelowTheHardLimit() async throws {
        let repo = GatedAuditRepository()
        let queue = AuditQueue(repository: repo, capacity: 10, batchSize: 4)
        let signals = Mutex<[Bool]>([])
        queue.setPressureHandler { p in signals.withLock { $0.append(p) } }
        let writer = Task { await queue.run() }
        for i in 0..<25 { queue.submit(event(i)) }
        #expect(queue.isPressured)
        #expect(signals.withLock { $0 } == [true])
        #expect(queue.droppedCount == 0)
        repo.stalled.withLock { $0 = false }
        await queue.drain()
        await writer.value
        #expect(signals.withLock { $0 } == [true, false])
        #expect(repo.inner.all.count == 25)
    }

    @Test func failedWritesAreRetried() async throws {
        let repo = GatedAuditRepository()
        repo.stalled.withLock { $0 = false }
        repo.failuresLeft.withLock { $0 = 2 }
        let queue = AuditQueue(repository: repo, capacity: 10, batchSize: 10)
        let writer = Task { await queue.run() }
        for i in 0..<3 { queue.submit(event(i)) }
        try await Task.sleep(for: .milliseconds(300))
        await queue.drain()
        await writer.value
        #expect(repo.inner.all.count == 3)
    }
}

@Suite(.serialized) struct GatewayRuntimeTests {
    @Test func aNameThatDoesNotResolveIsAnErrorNeverAnAllow() async throws {
        try await withHarness(snapshot: Fixtures.snapshot(mode: .audit)) { h in
            let r = try await curl(["-i", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "http://nx.test/"])
            #expect(r.stdout.hasPrefix("HTTP/1.1 502"))
            let e = try #require(await h.event { $0.host == "nx.test" })
            #expect(e.action == .error && e.status == 502)
            let socks = try await RawClient.exchangeBytes(port: h.socksPort, [socksHello(), socksRequest(domain: "nx.test", port: 80)])
            #expect(socks.count > 5 && socks[5] == 0x04)
        }
    }

    @Test func aRefusedUpstreamIs502() async throws {
        try await withHarness { h in
            // Port 1 on loopback: nothing listens there.
            let r = try await curl(["-i", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "http://allowed.test:1/"])
            #expect(r.stdout.hasPrefix("HTTP/1.1 502"))
            let e = try #require(await h.event { $0.port == 1 })
            #expect(e.action == .error && e.address == "127.0.0.1")
        }
    }

    @Test func tooManyTunnelsFromOneSandboxGet429() async throws {
        try await withHarness(configure: { $0.proxy.maxConnectionsPerSandbox = 1 }) { h in
            let port = h.upstreams.plainPort
            let (channel, closed, _) = try await RawClient.open(port: h.httpPort)
            try await channel.writeAndFlush(ByteBuffer(string: connectHead("allowed.test:\(port)", user: h.proxyUser)))
            for _ in 0..<100 where h.gateway.connections(of: Fixtures.sandboxID) == 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(h.gateway.connections(of: Fixtures.sandboxID) == 1)
            let second = try await RawClient.exchange(port: h.httpPort, [connectHead("allowed.test:\(port)", user: h.proxyUser).bytes])
            #expect(second.hasPrefix("HTTP/1.1 429"))
            #expect(second.contains("Retry-After: 1"))
            try await channel.close()
            _ = try? await closed.get()
            // The tunnel carries half-closes: it ends once the upstream answers the client's
            // FIN with its own, which a loaded CI machine took more than a second to do.
            for _ in 0..<500 where h.gateway.connections(of: Fixtures.sandboxID) > 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(h.gateway.connections(of: Fixtures.sandboxID) == 0)
        }
    }

    @Test func aLivePolicyChangeClosesAKeepAliveConnection() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let (channel, closed, collector) = try await RawClient.open(port: h.httpPort, timing: true)
            try await channel.writeAndFlush(ByteBuffer(string: "GET http://allowed.test:\(port)/ka HTTP/1.1\r\nHost: allowed.test:\(port)\r\n"
                + "Proxy-Authorization: Basic \(basic(h.proxyUser))\r\n\r\n"))
            var answered = false
            for _ in 0..<500 where !answered {
                let got = try await channel.eventLoop.submit { String(buffer: collector.received) }.get()
                answered = got.contains("upstream plain GET /ka")
                if !answered { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(answered, "the first request was answered")
            // The kept upstream is tracked once the response has ended.
            for _ in 0..<200 where h.gateway.registry.liveCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(channel.isActive)
            let blocked = Fixtures.snapshot(version: 2, rules: [Fixtures.rule("rul_block", .deny, "allowed.test")] + Fixtures.rules)
            let start = Date()
            #expect(h.gateway.registry.update(blocked) == 1)
            // The close is timed on the client's event loop, not when this task resumes: on a
            // loaded machine the cooperative pool once woke it 1.03 s after the close.
            let closedAt = try await closed.map { _ in Date() }.get()
            #expect(closedAt.timeIntervalSince(start) < 1.0)
            // The close is logged, with the decision that closed it.
            let e = try #require(await h.event { $0.rejectedBy == "policy-changed" })
            #expect(e.via == .http && e.action == .reject && e.host == "allowed.test" && e.reason.contains("rul_block"))
        }
    }

    @Test func gracefulShutdownFlushesTheAuditQueue() async throws {
        let harness = try await Harness.start()
        let r = try await curl(["--proxy", harness.proxyURL, "--proxy-user", harness.proxyUser,
                                "http://allowed.test:\(harness.upstreams.plainPort)/bye"])
        #expect(r.stdout.hasPrefix("upstream plain GET /bye"))
        await harness.stop()
        #expect(harness.audit.all.contains { $0.path == "/bye" })
        #expect(harness.gateway.openConnections == 0)
    }
}

@Suite(.serialized) struct DiallingAndBackPressureTests {
    @Test func onlyPermittedAddressesAreDialledInOrder() async throws {
        // multi.test → 169.254.169.254 (guarded: never dialled), ::1 (nothing listens: refused), 127.0.0.1 (answers).
        try await withHarness { h in
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                    "http://multi.test:\(h.upstreams.plainPort)/multi"])
            #expect(r.stdout.hasPrefix("upstream plain GET /multi"), "\(r.stdout) \(r.stderr)")
            let e = try #require(await h.event { $0.path == "/multi" })
            #expect(e.address == "127.0.0.1" && e.action == .allow)
        }
    }

    @Test func aFullAuditQueueStopsNewConnectionsUntilItDrains() async throws {
        let repository = GatedAuditRepository()
        let h = try await Harness.start(repository: repository) { $0.auditQueueCapacity = 2 }
        let port = h.upstreams.plainPort
        for i in 0..<3 {
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "http://denied.test:\(port)/\(i)"])
            #expect(r.stdout.contains("Portcullis blocked"))
            if i == 0 {
                // The writer takes the first event into its (stalled) batch; only then do the
                // next two fill the queue of two. Without this wait the second event could
                // fill it and pause accepts before the third request.
                for _ in 0..<200 where h.gateway.audit.depth > 0 { try await Task.sleep(for: .milliseconds(10)) }
                #expect(h.gateway.audit.depth == 0)
            }
        }
        #expect(h.gateway.audit.isPressured)
        try await Task.sleep(for: .milliseconds(100))
        // Accepting is paused: this request gets no answer within a second.
        let paused = try await curl(["--max-time", "1", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                     "http://allowed.test:\(port)/paused"])
        #expect(paused.status == 28, "curl timed out waiting: \(paused.stdout)")
        repository.stalled.withLock { $0 = false }
        let resumed = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "http://allowed.test:\(port)/resumed"])
        #expect(resumed.stdout.hasPrefix("upstream plain GET /resumed"))
        await h.stop()
        #expect(repository.inner.all.contains { $0.path == "/resumed" })
        #expect(h.gateway.audit.droppedCount == 0)
    }
}

@Suite struct DiallerSafetyNetTests {
    @Test func aDialThatLandsOnAGatewayListenerIsCutEvenWhenTheGuardMissedIt() async throws {
        // The guard decides on addresses it knows; a wildcard listener answers on every
        // address of the machine, some perhaps added after start-up. The dialler's own check
        // sees both ends of the connection on one address, and the port is a listener's.
        let upstreams = try await Upstreams()
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let book = ListenerBook()
        book.add([.init(address: .v4(IPv4Address(0)), port: UInt16(upstreams.plainPort))])
        let gate = GatewayGate(settings: ProxySettings(), registry: PolicyRegistry(),
                               resolver: Resolver(hosts: try HostsFile.load(path: nil), pool: pool, timeout: .seconds(1),
                                                  useSystemResolver: false),
                               audit: AuditQueue(repository: MemoryAuditRepository()), metrics: GatewayMetrics(),
                               connectTimeout: .seconds(2), listeners: book)
        let loop = RawClient.group.next()
        await #expect(throws: DialError.self) {
            _ = try await gate.connect(to: .v4(IPv4Address(127, 0, 0, 1)), port: UInt16(upstreams.plainPort), on: loop).get()
        }
        // Another port of the same address is fine.
        let ok = try await gate.connect(to: .v4(IPv4Address(127, 0, 0, 1)), port: UInt16(upstreams.tlsPort), on: loop).get()
        // The dialled socket's options, set by the dialler itself (none through the bootstrap's
        // list): no Nagle delay, no read until asked, half-close passed on.
        let options = try await loop.submit {
            let sync = try #require(ok.syncOptions)
            return (try sync.getOption(ChannelOptions.tcpOption(.tcp_nodelay)), try sync.getOption(ChannelOptions.autoRead),
                    try sync.getOption(ChannelOptions.allowRemoteHalfClosure))
        }.get()
        #expect(options.0 != 0 && options.1 == false && options.2 == true)
        try await ok.close()
        try await pool.shutdownGracefully()
        await upstreams.shutdown()
    }
}
