import Foundation
import Logging
import NIOCore
import PortcullisGateway
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisTLS

enum Serve {
    static func run() async throws {
        let port = Int(option("--port", "3128")!)!
        let socksPort = Int(option("--socks-port", "0")!)!
        let allow = option("--allow", "localhost")!
        let auditPath = option("--audit", "/tmp/portcullis-bench-audit.jsonl")!
        var config = GatewayConfiguration()
        config.httpBind = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        config.socksBind = try SocketAddress(ipAddress: "127.0.0.1", port: socksPort)
        config.hostsFilePath = option("--hosts")
        config.maxConnections = 100_000
        config.proxy.maxConnectionsPerSandbox = 100_000
        config.proxy.idleTimeout = .seconds(600)
        config.proxy.tunnelIdleTimeout = .seconds(600)
        config.auditQueueCapacity = 100_000
        if let threads = option("--threads").flatMap(Int.init) { config.eventLoopThreads = threads }
        let guardExempt = AddressGuard(exemptions: [try HostParser.parseNetwork("127.0.0.0/8")])
        // --inspect: TLS to the allowed host is terminated (the rule says inspect: true), with
        // leaves from a sandbox CA minted now (its certificate written to --ca-out) and the
        // upstream leg verified against --upstream-ca, as `serve --upstream-ca` does.
        let inspect = args.contains("--inspect")
        let policy = CompiledPolicy(mode: .allowlist, rules: [
            Rule(id: "rul_bench", action: .allow, host: try HostParser.parsePattern(allow), inspect: inspect ? true : nil),
        ], version: 1, addressGuard: guardExempt)
        let authority = inspect ? try SandboxAuthorities.mint(sandboxID: "sbx_bench") : nil
        if let authority, let out = option("--ca-out") {
            try authority.certificatePEM.write(toFile: out, atomically: true, encoding: .utf8)
        }
        let snapshot = GatewaySnapshot(version: 1, sandboxes: [
            "sbx_bench": SandboxPolicy(sandboxID: "sbx_bench", tenantID: "ten_bench", proxyToken: "bench", policy: policy,
                                       certificateAuthority: authority),
        ], bySourceAddress: [.v4(IPv4Address(127, 0, 0, 1)): "sbx_bench"])
        if inspect {
            var termination = TerminationSettings()
            termination.upstreamTrust = try UpstreamTrust.load(files: option("--upstream-ca").map { [$0] } ?? [])
            config.tls = SandboxTLS(settings: termination, snapshot: { snapshot })
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let gateway = Gateway(configuration: config, registry: PolicyRegistry(snapshot, logger: logger),
                              auditRepository: try JSONLinesAuditRepository(path: auditPath), logger: logger)
        // The audit writer runs beside the listeners, as `Gateway.run()` runs it.
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await gateway.audit.runWriters() }
            let bound = try await gateway.start()
            say("ready \(bound.http!.port!)")
            flushOutput()
            // Runs until killed (the script sends SIGTERM); the audit file is written as it goes.
            let signals = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .main)
            signal(SIGTERM, SIG_IGN)
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                signals.setEventHandler { c.resume() }
                signals.resume()
            }
            await gateway.stop()
        }
    }
}
