// `portcullis-dns-bench`: the DNS gateway's benchmark (see run.sh beside this file).
//   gateway  --port P --upstream PORT     Portcullis's DNS gateway alone (denylist, no rules; audit counted, not stored)
//   upstream --port P                     a loopback resolver that answers every A question (192.0.2.x, TTL 3600)
import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisDNS
import PortcullisGateway
import PortcullisModel
import PortcullisPolicy

let args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: String? = nil) -> String? {
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}

/// One line to standard output, unbuffered (the script waits for "ready" lines).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// Blocks until SIGTERM.
func waitForTermination() async {
    let signals = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .main)
    signal(SIGTERM, SIG_IGN)
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
        signals.setEventHandler { c.resume() }
        signals.resume()
    }
}

/// Counts audit events and drops them (the bench measures the DNS path, not a store).
final class CountingAuditRepository: AuditRepository, @unchecked Sendable {
    let lock = NSLock()
    var written = 0
    func append(_ events: [AuditEvent]) async throws -> [AuditEvent] {
        lock.withLock { written += events.count }
        return events
    }
    func query(_ query: AuditQuery) async throws -> AuditPage { AuditPage(items: [], nextCursor: nil) }
    func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] { [] }
    func deleteOlder(than cutoff: Timestamp) async throws -> Int { 0 }
    func count() async throws -> Int { lock.withLock { written } }
}

enum GatewayCommand {
    static func run() async throws {
        let port = Int(option("--port", "5301") ?? "5301") ?? 5301
        let upstream = Int(option("--upstream", "5399") ?? "5399") ?? 5399
        var config = GatewayConfiguration()
        config.httpBind = nil
        config.socksBind = nil
        config.dnsBind = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        config.upstreamDNS = [try SocketAddress(ipAddress: "127.0.0.1", port: upstream)]
        config.useSystemResolver = false
        config.auditQueueCapacity = 100_000
        if let threads = option("--threads").flatMap(Int.init) { config.eventLoopThreads = threads }
        let policy = CompiledPolicy(mode: .denylist, rules: [], version: 1)
        let snapshot = GatewaySnapshot(version: 1, sandboxes: [
            "sbx_bench": SandboxPolicy(sandboxID: "sbx_bench", tenantID: "ten_bench", proxyToken: "bench", policy: policy),
        ], bySourceAddress: [.v4(IPv4Address(127, 0, 0, 1)): "sbx_bench"])
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let audit = CountingAuditRepository()
        let gateway = Gateway(configuration: config, registry: PolicyRegistry(snapshot, logger: logger),
                              auditRepository: audit, logger: logger)
        // The audit writer runs beside the listeners, as the gateway's audit writer service runs it.
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await gateway.audit.runWriters() }
            let bound = try await gateway.start()
            say("ready \(bound.dns?.port ?? 0)")
            await waitForTermination()
            await gateway.stop()
        }
        FileHandle.standardError.write(Data("portcullis audit events: \(try await audit.count())\n".utf8))
    }
}

enum UpstreamCommand {
    final class Answer: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        var served: UInt32 = 0
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard let query = try? DNSMessage(parsing: envelope.data), let q = query.questions.first else { return }
            served &+= 1
            var response = DNSMessage.response(to: query, code: .noError)
            if q.type == .a {
                response.answers = [.address(q.name, .v4(IPv4Address(0xC000_0200 | (served & 0xFF))), ttl: 3600)]
            }
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: response.write(maxSize: 1232))),
                          promise: nil)
        }
        func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {}
    }

    static func run() async throws {
        let port = Int(option("--port", "5399") ?? "5399") ?? 5399
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 8 << 20)
            .channelOption(ChannelOptions.maxMessagesPerRead, value: 64)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Answer()) }
            }
            .bind(host: "127.0.0.1", port: port).get()
        say("ready \(channel.localAddress?.port ?? 0)")
        await waitForTermination()
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

switch args.first {
case "gateway": try await GatewayCommand.run()
case "upstream": try await UpstreamCommand.run()
default:
    FileHandle.standardError.write(Data("usage: portcullis-dns-bench gateway|upstream …\n".utf8))
    exit(2)
}
