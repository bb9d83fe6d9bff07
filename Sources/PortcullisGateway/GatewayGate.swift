import NIOCore
import NIOPosix
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy
import PortcullisWire
import Synchronization

/// The runtime's side of the proxy's seams: identity from the registry's snapshot, the
/// resolver, a dialler that connects to exactly the checked address, the audit queue, the
/// per-sandbox counts and the live-connection registry.
final class GatewayGate: SandboxDirectory, Dialler, AuditSink, ConnectionBook {
    let settings: ProxySettings
    let registry: PolicyRegistry
    let listeners: ListenerBook
    let resolver: Resolver
    let audit: AuditQueue
    let metrics: GatewayMetrics
    let connectTimeout: TimeAmount
    /// What the DNS gateway handed out (`Gateway.answers`).
    let answers: AnswerMemory
    let perSandbox = Mutex<[String: Int]>([:])

    init(settings: ProxySettings, registry: PolicyRegistry, resolver: Resolver, audit: AuditQueue,
         metrics: GatewayMetrics, connectTimeout: TimeAmount, answers: AnswerMemory = AnswerMemory(),
         listeners: ListenerBook = ListenerBook()) {
        self.settings = settings
        self.registry = registry
        self.listeners = listeners
        self.resolver = resolver
        self.audit = audit
        self.metrics = metrics
        self.connectTimeout = connectTimeout
        self.answers = answers
    }

    func authenticate(_ credential: ProxyCredential?, source: SocketAddress?) -> SandboxContext? {
        let (snapshot, plans) = registry.snapshotAndPlans
        if let credential {
            guard let sandbox = snapshot.sandboxes[credential.username] else {
                // Same work for an unknown sandbox as for a wrong token.
                _ = ProxyCredential.constantTimeEquals(credential.password, "portcullis-no-such-sandbox-token")
                return nil
            }
            guard ProxyCredential.constantTimeEquals(credential.password, sandbox.proxyToken) else { return nil }
            return SandboxContext(sandboxID: sandbox.sandboxID, tenantID: sandbox.tenantID, policy: sandbox.policy,
                                  credentials: sandbox.credentials, scrubPlan: plans[sandbox.sandboxID] ?? ScrubPlan.none)
        }
        guard let ip = source.flatMap(IPAddress.init(socketAddress:)), let id = snapshot.bySourceAddress[ip],
              let sandbox = snapshot.sandboxes[id]
        else { return nil }
        return SandboxContext(sandboxID: sandbox.sandboxID, tenantID: sandbox.tenantID, policy: sandbox.policy,
                              credentials: sandbox.credentials, scrubPlan: plans[sandbox.sandboxID] ?? ScrubPlan.none)
    }

    var generation: UInt64? { registry.generation }

    func resolve(_ name: DomainName, on eventLoop: any EventLoop) -> EventLoopFuture<[IPAddress]> {
        resolver.resolve(name, on: eventLoop)
    }

    func connect(to address: IPAddress, port: UInt16, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        // Built from the address's bits: no formatting to text and parsing back per dial.
        let socketAddress = SocketAddress(address, port: port)
        // The options are set synchronously in the initializer (before registration, so no
        // read is issued): the bootstrap's own option list applies each one through a future
        // chain, about 4 % of the gateway's user-space CPU per tunnel. Its one default,
        // TCP_NODELAY, is set there too: `enableMPTCP(true)` is NIO's only way to take it off
        // the list (MPTCP sockets cannot take it), and `enableMPTCP(false)` leaves MPTCP off.
        let dialled = ClientBootstrap(group: eventLoop)
            .enableMPTCP(true).enableMPTCP(false)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                do {
                    try Self.configureDialled(channel)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(to: socketAddress)
        // One step from the dial's result to ours (a future per step otherwise).
        let promise = eventLoop.makePromise(of: (any Channel).self)
        let listeners = self.listeners
        dialled.whenComplete { result in
            switch result {
            case .failure(ChannelError.connectTimeout):
                promise.fail(DialError(timedOut: true, message: "connecting to \(address) port \(port) timed out"))
            case .failure(let error):
                promise.fail(DialError(timedOut: false, message: "connecting to \(address) port \(port) failed: \(error)"))
            case .success(let channel):
                // The safety net behind the listener guard: a connection whose two ends are
                // one address of this machine reached this machine; if that port is one of
                // the gateway's listeners, it goes no further (an address added to an
                // interface after start-up is not in the guard's list).
                if let local = channel.localAddress.flatMap(IPAddress.init(socketAddress:)), local == address,
                   listeners.current.listeners.contains(where: { $0.port == port && ($0.address == address || $0.address.isUnspecified) }) {
                    channel.close(promise: nil)
                    promise.fail(DialError(timedOut: false, message: "\(address) port \(port) is the gateway's own listener"))
                } else {
                    promise.succeed(channel)
                }
            }
        }
        return promise.futureResult
    }

    /// A dialled channel's options, before it is registered: no Nagle delay, not reading
    /// until the tunnel or the HTTP stream says so, half-close passed on, tunnel-sized reads.
    static func configureDialled(_ channel: any Channel) throws {
        guard let options = channel.syncOptions else { throw ChannelError.operationUnsupported }
        try options.setOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
        try options.setOption(ChannelOptions.autoRead, value: false)
        try options.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        try options.setOption(ChannelOptions.recvAllocator, value: TunnelReads.allocator)
    }

    func record(_ event: AuditEvent) {
        metrics.record(event)
        audit.submit(event)
    }

    func record(_ event: AuditEvent, whenWritten: @escaping @Sendable () -> Void) {
        metrics.record(event)
        audit.submit(event, whenWritten: whenWritten)
    }

    func now() -> Timestamp { Timestamp.now() }

    func openConnection(sandboxID: String) -> Bool {
        perSandbox.withLock { counts in
            let n = counts[sandboxID, default: 0]
            guard n < settings.maxConnectionsPerSandbox else { return false }
            counts[sandboxID] = n + 1
            return true
        }
    }

    func closeConnection(sandboxID: String) {
        perSandbox.withLock { counts in
            let n = counts[sandboxID, default: 0] - 1
            if n <= 0 { counts[sandboxID] = nil } else { counts[sandboxID] = n }
        }
    }

    func connections(of sandboxID: String) -> Int { perSandbox.withLock { $0[sandboxID, default: 0] } }

    func track(_ connection: LiveConnection) {
        let tunnels = registry.track(connection)
        if connection.isTunnel { metrics.activeTunnels.record(tunnels) }
    }

    func untrack(_ connection: LiveConnection) {
        let tunnels = registry.untrack(connection)
        if connection.isTunnel { metrics.activeTunnels.record(tunnels) }
    }

    func observeDecision(nanoseconds: Int64) {
        metrics.decisionLatency.recordNanoseconds(nanoseconds)
    }

    func attributedName(for address: IPAddress, sandboxID: String) -> DomainName? {
        answers.name(for: address, sandboxID: sandboxID, now: now())
    }

    func answeredAddresses(for name: DomainName, sandboxID: String) -> Set<IPAddress> {
        answers.addresses(for: name, sandboxID: sandboxID, now: now())
    }
}

extension Timestamp {
    /// Wall-clock now, in milliseconds since the epoch.
    static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }
}
