import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisGateway
import PortcullisTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// The data plane as services in one group (`Gateway.services`): one per listener, the
/// shared resources, the audit writer — and the order a graceful stop takes across them.
@Suite(.serialized) struct GatewayServiceGroupTests {
    func configuration(hostsPath: String, socks: SocketAddress?) throws -> GatewayConfiguration {
        var config = GatewayConfiguration()
        config.httpBind = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        config.socksBind = socks
        config.hostsFilePath = hostsPath
        config.useSystemResolver = false
        config.eventLoopThreads = 1
        config.drainTimeout = .seconds(10)
        return config
    }

    func writeHosts() throws -> String {
        let path = NSTemporaryDirectory() + "portcullis-hosts-\(UUID().uuidString)"
        try Fixtures.hostsFile.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Whether a TCP connection to `port` on 127.0.0.1 is accepted.
    func accepts(_ port: Int) async -> Bool {
        guard let channel = try? await ClientBootstrap(group: RawClient.group).connect(host: "127.0.0.1", port: port).get()
        else { return false }
        try? await channel.close()
        return true
    }

    func received(_ channel: any Channel, _ collector: RawClient.Collector) async throws -> String {
        try await channel.eventLoop.submit { String(buffer: collector.received) }.get()
    }

    func waitFor(seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    @Test func servesUntilGracefulShutdownThenFlushes() async throws {
        let upstreams = try await Upstreams()
        let hostsPath = try writeHosts()
        defer { try? FileManager.default.removeItem(atPath: hostsPath) }
        var config = try configuration(hostsPath: hostsPath, socks: nil)
        config.drainTimeout = .milliseconds(100)
        let audit = MemoryAuditRepository()
        let gateway = Gateway(configuration: config, registry: PolicyRegistry(Fixtures.snapshot()), auditRepository: audit)
        let group = ServiceGroup(configuration: .init(services: gateway.services, gracefulShutdownSignals: [],
                                                      logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        let p = try #require(await gateway.listeningAddresses()?.http?.port)
        let r = try await curl(["--proxy", "http://127.0.0.1:\(p)", "--proxy-user", "\(Fixtures.sandboxID):\(Fixtures.token)",
                                "http://allowed.test:\(upstreams.plainPort)/svc"])
        #expect(r.stdout.hasPrefix("upstream plain GET /svc"))
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(audit.all.contains { $0.path == "/svc" })
        #expect(gateway.bound == nil)
        await upstreams.shutdown()
    }

    @Test func everyListenerStopsAcceptingThenOpenConnectionsDrainThenTheAuditFlushes() async throws {
        let upstreams = try await Upstreams()
        let hostsPath = try writeHosts()
        defer { try? FileManager.default.removeItem(atPath: hostsPath) }
        let audit = MemoryAuditRepository()
        let config = try configuration(hostsPath: hostsPath, socks: try SocketAddress(ipAddress: "127.0.0.1", port: 0))
        let gateway = Gateway(configuration: config, registry: PolicyRegistry(Fixtures.snapshot()), auditRepository: audit)
        #expect(gateway.services.count == 4, "audit writer, resources, HTTP listener, SOCKS5 listener")
        let group = ServiceGroup(configuration: .init(services: gateway.services, gracefulShutdownSignals: [],
                                                      logger: Logger(label: "test")))
        let finished = Atomic(false)
        let running = Task {
            defer { finished.store(true, ordering: .sequentiallyConsistent) }
            try await group.run()
        }
        let bound = try #require(await gateway.listeningAddresses())
        let httpPort = try #require(bound.http?.port), socksPort = try #require(bound.socks?.port)

        // A tunnel open across the stop.
        let (channel, closed, collector) = try await RawClient.open(port: httpPort)
        let target = "allowed.test:\(upstreams.plainPort)"
        let auth = Data("\(Fixtures.sandboxID):\(Fixtures.token)".utf8).base64EncodedString()
        try await channel.writeAndFlush(ByteBuffer(string: "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\nProxy-Authorization: Basic \(auth)\r\n\r\n"))
        let established = try await waitFor(seconds: 5) { try await received(channel, collector).hasPrefix("HTTP/1.1 200") }
        #expect(established)

        let stopping = Task { await group.triggerGracefulShutdown() }
        // Both listeners stop accepting while the tunnel is still open and the group still runs.
        let stoppedAccepting = await waitFor(seconds: 5) {
            let http = await accepts(httpPort), socks = await accepts(socksPort)
            return !http && !socks
        }
        #expect(stoppedAccepting)
        let finishedEarly = finished.load(ordering: .sequentiallyConsistent)
        #expect(!finishedEarly, "the open tunnel is being drained")
        try await channel.writeAndFlush(ByteBuffer(string: "GET /during-drain HTTP/1.1\r\nHost: \(target)\r\n\r\n"))
        let relayed = try await waitFor(seconds: 5) { try await received(channel, collector).contains("upstream plain GET /during-drain") }
        #expect(relayed)
        let finishedDuringDrain = finished.load(ordering: .sequentiallyConsistent)
        #expect(!finishedDuringDrain)

        // The tunnel ends: the drain is over, and the audit writer flushes last.
        try await channel.close()
        _ = try await closed.get()
        try await running.value
        await stopping.value
        #expect(audit.all.contains { $0.path == "/during-drain" && $0.action == .allow })
        #expect(audit.all.contains { $0.via == .connect && $0.host == "allowed.test" && $0.path == nil })
        #expect(gateway.bound == nil)
        await upstreams.shutdown()
    }

    @Test func aListenerThatCannotBindStopsTheWholeGroup() async throws {
        let hostsPath = try writeHosts()
        defer { try? FileManager.default.removeItem(atPath: hostsPath) }
        // The SOCKS5 port is taken by another socket.
        let taken = try await ServerBootstrap(group: RawClient.group).bind(host: "127.0.0.1", port: 0).get()
        let config = try configuration(hostsPath: hostsPath, socks: taken.localAddress)
        let gateway = Gateway(configuration: config, registry: PolicyRegistry(Fixtures.snapshot()),
                              auditRepository: MemoryAuditRepository())
        var groupConfig = ServiceGroupConfiguration(services: gateway.services, gracefulShutdownSignals: [],
                                                    logger: Logger(label: "test"))
        groupConfig.maximumGracefulShutdownDuration = .seconds(30)
        let started = Date()
        await #expect(throws: (any Error).self) { try await ServiceGroup(configuration: groupConfig).run() }
        #expect(Date().timeIntervalSince(started) < 15, "the failed bind stops the group without waiting for cancellation")
        #expect(gateway.bound == nil)
        try await taken.close()
    }
}
