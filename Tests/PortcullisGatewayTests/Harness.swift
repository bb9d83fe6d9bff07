import Foundation
import NIOCore
import NIOPosix
import PortcullisGateway
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy
import PortcullisRunner
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
                              pendingRecorder: { event in audit.pending.withLock { $0.append(event) } })
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

    /// The first audit event matching `predicate`, waiting up to two seconds for the queue.
    func event(where predicate: (AuditEvent) -> Bool) async -> AuditEvent? {
        for _ in 0..<100 {
            if let e = audit.all.first(where: predicate) { return e }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// The audit events matching `predicate`, once there are at least `count` (waiting up to
    /// two seconds for the queue).
    func events(count: Int, where predicate: (AuditEvent) -> Bool) async -> [AuditEvent] {
        var found: [AuditEvent] = []
        for _ in 0..<100 {
            found = audit.all.filter(predicate)
            if found.count >= count { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return found
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

struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs a command on a thread of its own (never blocking the concurrency pool) through
/// the runner's `posix_spawn` + `poll` helper; killed, and the test failed, after
/// `timeout` seconds. (Foundation's `Process` with pipe `readabilityHandler`s crashed
/// the test process inside libdispatch in one CI run: a dispatch source outlived its
/// pipe.)
func run(_ executable: String, _ arguments: [String], timeout: Double = 20) async throws -> ProcessResult {
    var env = ProcessInfo.processInfo.environment
    for key in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"] {
        env[key] = nil
    }
    let environment = env.map { "\($0.key)=\($0.value)" }
    let argv = [executable] + arguments
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProcessResult, Error>) in
        let thread = Thread {
            do {
                let output = try Spawn.run(argv, timeout: timeout, environment: environment)
                continuation.resume(returning: ProcessResult(status: output.status.runnerCode, stdout: output.stdout,
                                                             stderr: output.stderr))
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}

/// The first `tool` on PATH (then the usual directories).
func which(_ tool: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/bin"] {
        let path = dir + "/" + tool
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

let curlPath = which("curl")
let python3Path = which("python3")

/// A python3 that can `import requests`, or nil.
func pythonWithRequests() async -> String? {
    guard let python = python3Path,
          let r = try? await run(python, ["-c", "import requests"]), r.status == 0 else { return nil }
    return python
}

/// `curl` through the gateway; `-s -S`, with a short overall timeout; prints headers with `-i`.
func curl(_ arguments: [String]) async throws -> ProcessResult {
    let path = try #require(curlPath, "curl is needed for this test (apt-get install curl)")
    return try await run(path, ["-s", "-S", "--max-time", "10"] + arguments)
}
