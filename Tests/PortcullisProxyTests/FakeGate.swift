import NIOCore
import NIOEmbedded
import PortcullisAudit
import PortcullisPolicy
import PortcullisProxy
import PortcullisWire
import Synchronization

/// The seams the handler tests use, in one object: one sandbox, a fixed name table,
/// upstreams that are `EmbeddedChannel`s on the client's loop, and the audit events it was
/// handed.
final class FakeGate: SandboxDirectory, Dialler, AuditSink, ConnectionBook, @unchecked Sendable {
    let settings: ProxySettings
    /// The sandbox's compiled policy (a test may swap it, as a policy update would).
    var policy: CompiledPolicy
    let names: [String: [IPAddress]]
    var events: [AuditEvent] = []
    var upstreams: [EmbeddedChannel] = []
    var tracked: [LiveConnection] = []
    var open = 0
    /// What the DNS gateway "handed out" (transparent tests), name → addresses.
    var dnsAnswers: [String: [IPAddress]] = [:]
    /// The source address that maps to sbx_t without a credential (transparent tests).
    static let sandboxSource = "10.9.9.9"
    /// The policy generation answered (`SandboxDirectory.generation`): nil keeps nothing
    /// between a connection's requests, a number lets them keep identity and decision.
    var generation: UInt64?

    init(settings: ProxySettings = ProxySettings(), mode: Mode = .allowlist, extraRules: [Rule] = []) {
        self.settings = settings
        let rules = [
            Rule(id: "rul_allow", action: .allow, host: try! HostParser.parsePattern("allowed.test")),
            Rule(id: "rul_deny", action: .deny, host: try! HostParser.parsePattern("denied.test")),
        ] + extraRules
        policy = CompiledPolicy(mode: mode, rules: rules, version: 7,
                                addressGuard: AddressGuard(exemptions: [try! HostParser.parseNetwork("127.0.0.0/8")]))
        names = ["allowed.test": [.v4(IPv4Address(127, 0, 0, 1))], "denied.test": [.v4(IPv4Address(127, 0, 0, 2))]]
    }

    /// The environment the handlers get; `listeners` as the gateway would have them.
    var env: ProxyEnvironment { ProxyEnvironment(settings: settings, listeners: listeners, gate: self) }
    let listeners = ListenerBook()

    func authenticate(_ credential: ProxyCredential?, source: SocketAddress?) -> SandboxContext? {
        if credential == nil, source?.ipAddress == FakeGate.sandboxSource {
            return SandboxContext(sandboxID: "sbx_t", tenantID: "ten_t", policy: policy)
        }
        guard let credential, credential.username == "sbx_t", ProxyCredential.constantTimeEquals(credential.password, "tok")
        else { return nil }
        return SandboxContext(sandboxID: "sbx_t", tenantID: "ten_t", policy: policy)
    }

    func resolve(_ name: DomainName, on eventLoop: any EventLoop) -> EventLoopFuture<[IPAddress]> {
        guard let a = names[name.text] else {
            return eventLoop.makeFailedFuture(ResolveError(timedOut: false, message: "no such name"))
        }
        return eventLoop.makeSucceededFuture(a)
    }

    func connect(to address: IPAddress, port: UInt16, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        let channel = EmbeddedChannel(loop: eventLoop as! EmbeddedEventLoop)
        upstreams.append(channel)
        return channel.connect(to: try! SocketAddress(ipAddress: address.description, port: Int(port)))
            .map { channel as any Channel }
    }

    func record(_ event: AuditEvent) { events.append(event) }
    func now() -> Timestamp { Timestamp(milliseconds: 1_000) }
    func openConnection(sandboxID: String) -> Bool {
        open += 1
        return open <= settings.maxConnectionsPerSandbox
    }
    func closeConnection(sandboxID: String) { open -= 1 }
    func track(_ connection: LiveConnection) { tracked.append(connection) }
    func untrack(_ connection: LiveConnection) { tracked.removeAll { $0 === connection } }
    func observeDecision(nanoseconds: Int64) {}
    func attributedName(for address: IPAddress, sandboxID: String) -> DomainName? {
        guard sandboxID == "sbx_t" else { return nil }
        return dnsAnswers.filter { $0.value.contains(address) }.keys.sorted().first.flatMap { text in
            if case .name(let name) = try? HostParser.parseTarget(text) { return name }
            return nil
        }
    }
    func answeredAddresses(for name: DomainName, sandboxID: String) -> Set<IPAddress> {
        sandboxID == "sbx_t" ? Set(dnsAnswers[name.text] ?? []) : []
    }
}

extension FakeGate {
    /// A client connection (10.1.2.3:5555) on the forward proxy's listener.
    func forwardChannel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try HTTPProxy.install(on: channel, env: env)
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 5555)).wait()
        return channel
    }
}

let credentials = "Proxy-Authorization: Basic " + Base64.encode(Array("sbx_t:tok".utf8)) + "\r\n"

extension EmbeddedChannel {
    /// Everything written so far, as text.
    func outboundText() throws -> String {
        var out = ""
        while let b = try readOutbound(as: ByteBuffer.self) { out += String(buffer: b) }
        return out
    }

    func outboundBytes() throws -> [UInt8] {
        var out: [UInt8] = []
        while let b = try readOutbound(as: ByteBuffer.self) { out += Array(b.readableBytesView) }
        return out
    }

    /// Feeds `bytes` one byte per read.
    func drip(_ bytes: [UInt8]) throws {
        for byte in bytes { try writeInbound(ByteBuffer(bytes: [byte])) }
    }
}

extension String {
    /// How many times `needle` occurs (non-overlapping).
    func occurrences(of needle: String) -> Int {
        var count = 0
        var rest = Substring(self)
        while let r = rest.firstRange(of: needle) {
            count += 1
            rest = rest[r.upperBound...]
        }
        return count
    }
}

func fixture(_ name: String, file: String = #filePath) -> [UInt8] {
    let dir = file.split(separator: "/").dropLast().joined(separator: "/")
    let path = "/" + dir + "/Fixtures/" + name
    let f = fopen(path, "rb")!
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        out += chunk[0..<n]
    }
    return out
}

#if canImport(Glibc)
import Glibc
#endif
