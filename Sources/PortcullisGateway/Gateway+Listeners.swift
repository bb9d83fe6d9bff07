import NIOCore
import NIOPosix
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy

/// The data plane's life in four steps, shared by its services (GatewayServices.swift) and
/// by `start()`/`stop()`: open what the listeners share, bind each listener, close each
/// listener, then drain the connections and release what they shared.
extension Gateway {
    // MARK: - The shared resources

    /// Opens what every listener shares: the hosts file, the event-loop group, the resolver
    /// pool, the gate and the audit queue's back-pressure on accepts.
    func openResources() throws -> Resources {
        let hosts: HostsFile
        do {
            hosts = try HostsFile.load(path: configuration.hostsFilePath)
        } catch {
            resourcesReady.set(nil)
            throw error
        }
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
        audit.setPressureHandler { [logger, weak self] pressured in
            logger.warning(pressured ? "audit queue full: pausing accepts" : "audit queue drained: accepting again")
            let servers = self?.bindings.withLock { $0.servers.values.flatMap { $0 } } ?? []
            for server in servers { server.setOption(ChannelOptions.autoRead, value: !pressured).whenFailure { _ in } }
        }
        let opened = Resources(group: group, pool: pool, gate: gate, hosts: hosts)
        self.resources.withLock { $0 = opened }
        leases.open()
        resourcesReady.set(opened)
        announceIfComplete()
        return opened
    }

    /// Stops accepting on every listener still open, lets connections finish for
    /// `drainTimeout`, closes the rest, stops the DNS forwarder and releases the threads.
    /// The audit queue is not drained here: its writer does that last.
    func drainAndRelease() async {
        for listener in Listener.allCases { await closeServers(of: listener) }
        guard let opened = resources.withLock({ r -> Resources? in
            defer { r = nil }
            return r
        }) else { return }
        // A listener's service may still be binding (its group was cancelled while it was):
        // no bind or close starts on the loops from here on, and those under way end first.
        // What one of them bound meanwhile is closed here, while the loops still run.
        await leases.closeAndWait()
        for listener in Listener.allCases { await closeServers(of: listener) }
        await limiter.waitUntilEmpty(atMost: configuration.drainTimeout)
        let forwarder = bindings.withLock { b -> DNSForwarder? in
            defer { b = Listening() }
            return b.forwarder
        }
        await forwarder?.stop()
        limiter.closeAll()
        await limiter.waitUntilEmpty(atMost: .seconds(2))
        try? await opened.group.shutdownGracefully()
        try? await opened.pool.shutdownGracefully()
        logger.info("gateway stopped")
    }

    // MARK: - One listener

    /// Binds `listener` on the shared resources; once every configured listener is bound,
    /// the addresses are logged and `listeningAddresses()` returns them.
    func bind(_ listener: Listener, on opened: Resources) async throws {
        // The loops are being released (the group stops): there is nothing to bind on.
        guard leases.take() else { return }
        defer { leases.give() }
        switch listener {
        case .http, .socks, .transparent:
            let kind: Refusal.Listener = listener == .http ? .http : listener == .socks ? .socks : .transparent
            guard let address = address(of: listener) else { return }
            let server = try await bind(address, group: opened.group, gate: opened.gate, listener: kind)
            bindings.withLock { b in
                b.servers[listener] = [server]
                switch listener {
                case .http: b.http = server.localAddress
                case .socks: b.socks = server.localAddress
                default: b.transparent = server.localAddress
                }
            }
        case .dns:
            guard let address = configuration.dnsBind else { return }
            let (channels, forwarder) = try await startDNS(address, group: opened.group, hosts: opened.hosts)
            for channel in channels { channel.localAddress.map(protect) }
            bindings.withLock { b in
                b.servers[.dns] = channels
                b.dns = channels.first?.localAddress
                b.forwarder = forwarder
            }
        }
        announceIfComplete()
    }

    /// Stops accepting on `listener` (connections already accepted go on). Once the loops
    /// are being released, `drainAndRelease` closes what is left: awaiting a close on a loop
    /// that has shut down would never return.
    func close(_ listener: Listener) async {
        guard leases.take() else { return }
        defer { leases.give() }
        await closeServers(of: listener)
    }

    private func closeServers(of listener: Listener) async {
        let servers = bindings.withLock { b -> [any Channel] in
            defer { b.servers[listener] = nil }
            return b.servers[listener] ?? []
        }
        for server in servers { try? await server.close() }
    }

    private func address(of listener: Listener) -> SocketAddress? {
        switch listener {
        case .http: return configuration.httpBind
        case .socks: return configuration.socksBind
        case .dns: return configuration.dnsBind
        case .transparent: return configuration.transparentBind
        }
    }

    private func announceIfComplete() {
        let configured = Set(configuredListeners)
        guard let bound = bindings.withLock({ b -> Bound? in
            guard !b.complete, configured.isSubset(of: Set(b.servers.keys)) else { return nil }
            b.complete = true
            return b.bound
        }) else { return }
        logger.info("gateway listening", metadata: ["http": "\(bound.http.map { "\($0)" } ?? "-")",
                                                    "socks5": "\(bound.socks.map { "\($0)" } ?? "-")",
                                                    "dns": "\(bound.dns.map { "\($0)" } ?? "-")",
                                                    "transparent": "\(bound.transparent.map { "\($0)" } ?? "-")"])
        listening.set(bound)
    }

    // MARK: - Without a service group (tests, benchmarks)

    /// Opens the resources and binds every configured listener. The audit writer is not
    /// started here: whoever calls this runs `audit.runWriters()` in a task of its own.
    @discardableResult
    public func start() async throws -> Bound {
        let opened = try openResources()
        do {
            for listener in configuredListeners { try await bind(listener, on: opened) }
        } catch {
            await drainAndRelease()
            throw error
        }
        return bindings.withLock { $0.bound }
    }

    /// Stops accepting, lets connections finish for `drainTimeout`, closes the rest,
    /// flushes the audit queue and releases the threads.
    public func stop() async {
        await drainAndRelease()
        await audit.drain()
    }

    // MARK: - Binding

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
            // No child options: an accepted socket inherits TCP_NODELAY from the listener (NIO's
            // server bootstrap sets it there), and the receive allocator is set in place below —
            // each child option goes through a chain of futures per connection.
            .childChannelInitializer { channel in
                guard limiter.acquire() else {
                    Refusal.refuse(channel, listener: listener, limit: maximum, gate: gate)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                limiter.remember(channel)
                do {
                    // Receive buffers start small (what an idle connection keeps per side).
                    try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: TunnelReads.allocator)
                    switch listener {
                    case .http:
                        try HTTPProxy.install(on: channel, env: env)
                    case .socks:
                        try SOCKSProxyHandler.install(on: channel, env: env)
                    case .transparent:
                        return OriginalDestinationReader.read(channel).flatMapThrowing { destination in
                            try TransparentProxy.install(on: channel, env: env, destination: destination)
                        }
                    }
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(to: address).get()
        server.localAddress.map(protect)
        return server
    }
}
