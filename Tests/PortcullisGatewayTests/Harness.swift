import Foundation
import NIOCore
import NIOPosix
import PortcullisGateway
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy
import PortcullisRunner
import PortcullisTestSupport
import Testing

/// The sandbox every integration test uses, in allowlist mode.
enum Fixtures {
    static let sandboxID = "sbx_a"
    static let token = "tok_a_secret"
    static let tenantID = "ten_1"

    static func rule(_ id: String, _ action: RuleAction, _ host: String, warnOnly: Bool = false, methods: [String]? = nil,
                     paths: [String]? = nil) -> Rule {
        Rule(id: id, action: action, host: try! HostParser.parsePattern(host), methods: methods,
             paths: paths.map { $0.map { try! PathPattern.parse($0) } }, warnOnly: warnOnly)
    }

    static let rules: [Rule] = [
        rule("rul_allow", .allow, "allowed.test"),
        rule("rul_warn", .allow, "warn.test", warnOnly: true),
        rule("rul_deny", .deny, "denied.test"),
        rule("rul_tls", .allow, "tls.test"),
        rule("rul_other", .allow, "other.test"),
        rule("rul_meta", .allow, "metadata.test"),
        rule("rul_loop", .allow, "127.0.0.1"),
        rule("rul_api", .allow, "api.test", methods: ["GET"], paths: ["/v1/*"]),
        rule("rul_multi", .allow, "multi.test"),
    ]

    static let exemptLoopback = AddressGuard(exemptions: [try! HostParser.parseNetwork("127.0.0.0/8"),
                                                          try! HostParser.parseNetwork("::1/128")])

    static func snapshot(version: UInt64 = 1, mode: Mode = .allowlist, rules: [Rule] = Fixtures.rules,
                         bySource: [IPAddress: String] = [:], credentials: [CredentialBinding] = []) -> GatewaySnapshot {
        let policy = CompiledPolicy(mode: mode, rules: rules, version: version, addressGuard: exemptLoopback)
        return GatewaySnapshot(version: version, sandboxes: [
            sandboxID: SandboxPolicy(sandboxID: sandboxID, tenantID: tenantID, proxyToken: token, policy: policy,
                                     credentials: credentials),
        ], bySourceAddress: bySource)
    }

    static let hostsFile = """
        # test names
        127.0.0.1 allowed.test denied.test warn.test tls.test other.test pending.test api.test evil.test
        ::1 allowed6.test
        169.254.169.254 metadata.test
        169.254.169.254 multi.test
        ::1 multi.test
        127.0.0.1 multi.test
        """
}

/// A gateway on 127.0.0.1 port 0 in front of loopback upstreams, with its audit log.
final class Harness: Sendable {
    let upstreams: Upstreams
    let gateway: Gateway
    let audit: MemoryAuditRepository
    let httpPort: Int
    let socksPort: Int
    /// The transparent listener's port, when the configuration asked for one.
    let transparentPort: Int?
    let hostsPath: String

    static func start(snapshot: GatewaySnapshot = Fixtures.snapshot(), repository: (any AuditRepository)? = nil,
                      configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws -> Harness {
        let upstreams = try await Upstreams()
        let hostsPath = NSTemporaryDirectory() + "portcullis-hosts-\(UUID().uuidString)"
        try Fixtures.hostsFile.write(toFile: hostsPath, atomically: true, encoding: .utf8)
        var config = GatewayConfiguration()
        config.httpBind = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        config.socksBind = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        config.hostsFilePath = hostsPath
        config.useSystemResolver = false  // tests never ask a real resolver
        config.eventLoopThreads = 1
        config.connectTimeout = .seconds(2)
        config.drainTimeout = .milliseconds(200)
        config.proxy.firstBytesTimeout = .seconds(2)
        configure(&config)
        let audit = MemoryAuditRepository()
        let gateway = Gateway(configuration: config, registry: PolicyRegistry(snapshot), auditRepository: repository ?? audit,
                              pendingRecorder: { event in audit.recordPending(event) })
        // Tests use `start()`/`stop()` directly; the audit writer runs beside them (`run()`
        // would run it as a child task).
        let writers = Task { await gateway.audit.runWriters() }
        let bound: Gateway.Bound
        do {
            bound = try await gateway.start()
        } catch {
            await gateway.audit.drain()
            await writers.value
            throw error
        }
        return Harness(upstreams: upstreams, gateway: gateway, audit: audit, httpPort: bound.http!.port!,
                       socksPort: bound.socks!.port!, transparentPort: bound.transparent?.port, hostsPath: hostsPath,
                       writers: writers)
    }

    let writers: Task<Void, Never>

    private init(upstreams: Upstreams, gateway: Gateway, audit: MemoryAuditRepository, httpPort: Int, socksPort: Int,
                 transparentPort: Int?, hostsPath: String, writers: Task<Void, Never>) {
        self.writers = writers
        self.upstreams = upstreams
        self.gateway = gateway
        self.audit = audit
        self.httpPort = httpPort
        self.socksPort = socksPort
        self.transparentPort = transparentPort
        self.hostsPath = hostsPath
    }

    func stop() async {
        await gateway.stop()
        await writers.value
        await upstreams.shutdown()
        try? FileManager.default.removeItem(atPath: hostsPath)
    }

    var proxyURL: String { "http://127.0.0.1:\(httpPort)" }
    var proxyUser: String { "\(Fixtures.sandboxID):\(Fixtures.token)" }

    /// The first audit event matching `predicate`, woken by each write (up to five seconds).
    func event(where predicate: (AuditEvent) -> Bool) async -> AuditEvent? {
        await audit.first(where: predicate)
    }

    /// The audit events matching `predicate`, once there are at least `count` (woken by each
    /// write, up to five seconds).
    func events(count: Int, where predicate: (AuditEvent) -> Bool) async -> [AuditEvent] {
        await audit.matching(count: count, where: predicate)
    }

    /// Waits until the gateway has no open client connection (up to `seconds`).
    /// Waits until no client connection is open and nothing is left in the bookkeeping that
    /// trails a close (live-connection registry, per-sandbox counters); returns the open count.
    func waitForNoConnections(seconds: Double = 3) async -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        func settled() -> Bool {
            gateway.openConnections == 0 && gateway.registry.liveCount == 0 && gateway.connections(of: Fixtures.sandboxID) == 0
        }
        while !settled(), Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return gateway.openConnections
    }

    /// Waits until the audit queue is empty and the log has not grown for `quiet` (woken by
    /// each write; at most `seconds`): entries are written as responses end, and on a loaded
    /// machine the last ones trail the closes.
    func settleAudit(quiet: Duration = .milliseconds(300), seconds: Double = 10) async {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let seen = audit.all.count
            let grew = await audit.changes.wait(timeout: quiet) { audit.all.count != seen }
            if !grew, gateway.audit.depth == 0, audit.all.count == seen { return }
        }
    }
}

/// Runs `body` with a started harness and always stops it.
func withHarness(snapshot: GatewaySnapshot = Fixtures.snapshot(), configure: (inout GatewayConfiguration) -> Void = { _ in },
                 _ body: (Harness) async throws -> Void) async throws {
    let harness = try await Harness.start(snapshot: snapshot, configure: configure)
    do {
        try await body(harness)
    } catch {
        await harness.stop()
        throw error
    }
    await harness.stop()
}

