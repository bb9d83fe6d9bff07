import Logging
import NIOCore
import NIOPosix
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy
import ServiceLifecycle
import Synchronization

/// The data plane as one service: an HTTP/CONNECT listener and a SOCKS5 listener, the
/// resolver pool, the audit writer. `run()` binds, serves until graceful shutdown, then
/// stops accepting, lets open connections finish for `drainTimeout`, closes the rest and
/// flushes the audit queue. Tests may call `start()` and `stop()` directly.
public final class Gateway: Service, Sendable {
    /// The addresses actually bound (port 0 resolved).
    public struct Bound: Sendable {
        public let http: SocketAddress?
        public let socks: SocketAddress?
        public var dns: SocketAddress? = nil
        public var transparent: SocketAddress? = nil
    }

    struct Running: @unchecked Sendable {
        let group: MultiThreadedEventLoopGroup
        let pool: NIOThreadPool
        let servers: [any Channel]
        let bound: Bound
        let forwarder: DNSForwarder?
    }

    public let configuration: GatewayConfiguration
    public let registry: PolicyRegistry
    public let audit: AuditQueue
    /// What the DNS gateway handed out to each sandbox (the transparent listener reads it).
    public let answers = AnswerMemory()
    /// The gateway's own listeners (and the API's, once `protect` is told): never reachable
    /// through the gateway.
    public let listeners = ListenerBook()
    let metrics = GatewayMetrics()
    let dnsMetrics = DNSMetrics()
    let limiter: ConnectionLimiter
    let logger: Logger
    private let running = Mutex<Running?>(nil)
    private let listening = OneShot<Bound>()
    private let gateBox = Mutex<GatewayGate?>(nil)
    private let dnsBox = Mutex<DNSGateway?>(nil)

    public init(configuration: GatewayConfiguration, registry: PolicyRegistry, auditRepository: any AuditRepository,
                pendingRecorder: (@Sendable (AuditEvent) async -> Void)? = nil,
                logger: Logger = Logger(label: "portcullis.gateway")) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.audit = AuditQueue(repository: auditRepository, capacity: configuration.auditQueueCapacity,
                                batchSize: configuration.auditBatchSize, pendingRecorder: pendingRecorder)
        self.limiter = ConnectionLimiter(maximum: configuration.maxConnections, metrics: metrics)
    }

    /// Open client connections across both listeners.
    public var openConnections: Int { limiter.count }
    public var bound: Bound? { running.withLock { $0?.bound } }
    /// The bound addresses, once every listener is up (nil if the waiting task is cancelled
    /// first, as when a listener fails and its service group ends): no one polls for readiness.
    public func listeningAddresses() async -> Bound? { await listening.value() }
    /// Open connections of one sandbox (requests in flight and tunnels).
    public func connections(of sandboxID: String) -> Int { gateBox.withLock { $0 }?.connections(of: sandboxID) ?? 0 }

    /// The data plane as a service: the audit writer and the pending recorder run as child
    /// tasks of this one for the whole life of the listeners; a graceful shutdown stops
    /// accepting, lets open connections finish (bounded), then drains the audit queue.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.audit.runWriters() }
            do {
                _ = try await start()
            } catch {
                await audit.drain()
                throw error
            }
            try? await gracefulShutdown()
            await stop()
        }
    }

    /// Binds the listeners. The audit writer is not started here: `run()` runs it, and a
    /// caller that uses `start()`/`stop()` directly (tests, benchmarks) runs
    /// `audit.runWriters()` in a task of its own.
    @discardableResult
    public func start() async throws -> Bound {
        let hosts = try HostsFile.load(path: configuration.hostsFilePath)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        let pool = NIOThreadPool(numberOfThreads: max(1, configuration.resolverThreads))
        pool.start()
        let resolver = Resolver(hosts: hosts, pool: pool, timeout: configuration.resolveTimeout,
                                useSystemResolver: configuration.useSystemResolver)
        listeners.add([], localAddresses: Self.localAddresses())
        for address in configuration.protectedListeners { protect(address) }
        let gate = GatewayGate(settings: configuration.proxy, registry: registry, resolver: resolver, audit: audit,
                               metrics: metrics, connectTimeout: configuration.connectTimeout, answers: answers,
                               listeners: listeners)
        gateBox.withLock { $0 = gate }
        var servers: [any Channel] = []
        var forwarder: DNSForwarder?
        do {
            var httpBound: SocketAddress?
            var socksBound: SocketAddress?
            if let address = configuration.httpBind {
                let server = try await bind(address, group: group, gate: gate, listener: .http)
                servers.append(server)
                httpBound = server.localAddress
            }
            if let address = configuration.socksBind {
                let server = try await bind(address, group: group, gate: gate, listener: .socks)
                servers.append(server)
                socksBound = server.localAddress
            }
            var bound = Bound(http: httpBound, socks: socksBound)
            if let address = configuration.dnsBind {
                let (channels, dnsForwarder) = try await startDNS(address, group: group, hosts: hosts)
                forwarder = dnsForwarder
                servers += channels
                bound.dns = channels.first?.localAddress
                for channel in channels { channel.localAddress.map(protect) }
            }
            if let address = configuration.transparentBind {
                let server = try await bind(address, group: group, gate: gate, listener: .transparent)
                servers.append(server)
                bound.transparent = server.localAddress
            }
            let serverList = servers
            audit.setPressureHandler { [logger] pressured in
                logger.warning(pressured ? "audit queue full: pausing accepts" : "audit queue drained: accepting again")
                for server in serverList { server.setOption(ChannelOptions.autoRead, value: !pressured).whenFailure { _ in } }
            }
            running.withLock {
                $0 = Running(group: group, pool: pool, servers: servers, bound: bound, forwarder: forwarder)
            }
            logger.info("gateway listening", metadata: ["http": "\(httpBound.map { "\($0)" } ?? "-")",
                                                        "socks5": "\(socksBound.map { "\($0)" } ?? "-")",
                                                        "dns": "\(bound.dns.map { "\($0)" } ?? "-")",
                                                        "transparent": "\(bound.transparent.map { "\($0)" } ?? "-")"])
            listening.set(bound)
            return bound
        } catch {
            for server in servers { try? await server.close() }
            await forwarder?.stop()
            try? await group.shutdownGracefully()
            try? await pool.shutdownGracefully()
            throw error
        }
    }

    /// The DNS gateway: its forwarder (unless there is nowhere to forward), then UDP and TCP.
    private func startDNS(_ address: SocketAddress, group: MultiThreadedEventLoopGroup,
                          hosts: HostsFile) async throws -> ([any Channel], DNSForwarder?) {
        let loop = group.next()
        var upstreams = configuration.upstreamDNS
        if upstreams.isEmpty, configuration.useSystemResolver { upstreams = ResolvConf.systemNameservers() }
        let forwarder = upstreams.isEmpty ? nil : try await DNSForwarder.start(
            upstreams: upstreams, eventLoop: loop, attemptTimeout: min(configuration.resolveTimeout, .seconds(2)),
            metrics: dnsMetrics)
        let service = DNSGateway(registry: registry, hosts: hosts, audit: audit, answers: answers, metrics: dnsMetrics,
                                 forwarder: forwarder, logger: logger)
        dnsBox.withLock { $0 = service }
        do {
            return (try await DNSListener.bind(address, on: loop, group: group, service: service), forwarder)
        } catch {
            await forwarder?.stop()
            throw error
        }
    }

    /// Adds a listener of this process (the API's) to those no sandbox may reach through it.
    public func protect(_ address: SocketAddress) {
        guard let ip = IPAddress(socketAddress: address), let port = address.port, let p = UInt16(exactly: port) else { return }
        listeners.add([GatewayListeners.Listener(address: ip, port: p)])
    }

    /// The addresses of this machine's interfaces, read once at start.
    static func localAddresses() -> Set<IPAddress> {
        guard let devices = try? System.enumerateDevices() else { return [] }
        return Set(devices.compactMap { $0.address.flatMap(IPAddress.init(socketAddress:)) })
    }

    /// Entries in the DNS gateway's answer cache (0 when it is not running).
    public var dnsCacheEntries: Int { dnsBox.withLock { $0 }?.cachedEntries ?? 0 }

    /// One listener. The global connection cap applies to each; beyond it `Refusal` answers.
    /// The transparent listener's connections were redirected here by the host
    /// (`portcullis run`'s nftables rules): each one's original destination is read once, on
    /// its event loop, before `TransparentProxy` decides it.
    private func bind(_ address: SocketAddress, group: MultiThreadedEventLoopGroup, gate: GatewayGate,
                      listener: Refusal.Listener) async throws -> any Channel {
        let limiter = self.limiter
        let maximum = configuration.maxConnections
        let env = ProxyEnvironment(settings: configuration.proxy, listeners: listeners, gate: gate, tls: configuration.tls)
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard limiter.acquire() else {
                    Refusal.refuse(channel, listener: listener, limit: maximum, gate: gate)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                limiter.remember(channel)
                switch listener {
                case .http:
                    return channel.eventLoop.makeCompletedFuture { try HTTPProxy.install(on: channel, env: env) }
                case .socks:
                    return channel.eventLoop.makeCompletedFuture { try SOCKSProxyHandler.install(on: channel, env: env) }
                case .transparent:
                    return OriginalDestinationReader.read(channel).flatMapThrowing { destination in
                        try TransparentProxy.install(on: channel, env: env, destination: destination)
                    }
                }
            }
            .bind(to: address).get()
        server.localAddress.map(protect)
        return server
    }

    /// Stops accepting, lets connections finish for `drainTimeout`, closes the rest,
    /// flushes the audit queue and releases the threads.
    public func stop() async {
        guard let state = running.withLock({ r -> Running? in
            let s = r
            r = nil
            return s
        }) else { return }
        for server in state.servers { try? await server.close() }
        await limiter.waitUntilEmpty(atMost: configuration.drainTimeout)
        await state.forwarder?.stop()
        limiter.closeAll()
        await limiter.waitUntilEmpty(atMost: .seconds(2))
        await audit.drain()
        try? await state.group.shutdownGracefully()
        try? await state.pool.shutdownGracefully()
        logger.info("gateway stopped")
    }
}
