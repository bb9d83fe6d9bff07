import Foundation
import Logging
import Metrics
import NIOCore
import PortcullisControl
import PortcullisGateway
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisServer
import PortcullisStore
import PortcullisTLS
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The composition root of `portcullis serve`: the store, the control plane, the API, the
/// data plane and the background tasks, in one `ServiceGroup` that starts them in order
/// and shuts them down in reverse on SIGTERM/SIGINT.
public enum PortcullisApp {
    /// Runs until a shutdown signal. `onReady` gets the bound addresses once every listener is up.
    public static func run(_ config: ServeConfiguration, logger: Logger,
                           output: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) },
                           onReady: @escaping @Sendable (ReadyAddresses) -> Void = { _ in }) async throws {
        try ListenerPreflight.check(config)
        let prometheus = PrometheusCollectorRegistry()
        MetricsBootstrap.once(prometheus)

        if let url = config.databaseURL {
            // One group around everything: PostgreSQL's pool first (started first, stopped
            // last), then what runs on the store, itself a group of services (`serve`).
            let postgres = try SQLStore.postgresService(url: url, logger: logger, nodeID: config.nodeID)
            let onStore = OnStoreService(open: postgres.open) { store in
                let doorbell = config.listen ? try PostgresDoorbell(url: url, logger: logger) : nil
                try await serve(config, store: store, doorbell: doorbell, prometheus: prometheus, logger: logger,
                                signals: [], output: output, onReady: onReady)
            }
            var outer = ServiceGroupConfiguration(services: [.init(service: postgres.pool), .init(service: onStore)],
                                                  gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            // The inner group has its own 20 s; the pool closes after it.
            outer.maximumGracefulShutdownDuration = .seconds(25)
            outer.maximumCancellationDuration = .seconds(5)
            try await ServiceGroup(configuration: outer).run()
        } else {
            if config.nodeID != nil { throw ServeError.nodeIDNeedsPostgres }
            try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
            let store = try await SQLStore.sqlite(path: config.dataDirectory + "/portcullis.sqlite", logger: logger)
            try await serve(config, store: store, doorbell: nil, prometheus: prometheus, logger: logger,
                            signals: [.sigterm, .sigint], output: output, onReady: onReady)
        }
    }

    /// Everything on an open store: the control plane, the API, the data plane and the
    /// background services in one `ServiceGroup`; the store is shut down at the end.
    /// `signals`: the group's own (none when it runs inside another group, whose graceful
    /// shutdown reaches it).
    private static func serve(_ config: ServeConfiguration, store: SQLStore, doorbell: PostgresDoorbell?,
                              prometheus: PrometheusCollectorRegistry, logger: Logger, signals: [UnixSignal],
                              output: @escaping @Sendable (String) -> Void,
                              onReady: @escaping @Sendable (ReadyAddresses) -> Void) async throws {
        let secrets: SecretsKey
        let upstreamTrust: UpstreamTrust
        do {
            secrets = try await loadSecretsKey(config, store: store, logger: logger)
            do { upstreamTrust = try UpstreamTrust.load(files: config.upstreamCAFiles) } catch { throw StartupError(error.message) }
        } catch {
            try? await store.shutdown()
            throw error
        }

        let registry = PolicyRegistry(logger: logger)
        let status = FleetStatus(listens: doorbell != nil)
        let (appliedVersions, appliedSink) = AsyncStream<UInt64>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let listeners = [config.api, config.proxy] + [config.socks, config.dns, config.transparent].compactMap { $0 }
        let control = ControlPlane(
            store: store, addressGuard: AddressGuard(gatewayAddresses: [], exemptions: config.guardExemptions),
            proxy: ProxyEndpoints(host: config.proxy.host, httpPort: config.proxy.port, socksPort: socksPort(config)),
            sourceAddressPolicy: SourceAddressPolicy(claimable: config.claimable, ownAddresses: { HostAddresses.own(listeners: listeners) }),
            secrets: secrets,
            now: { Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) },
            publish: { snapshot in _ = registry.update(snapshot) })
        await control.setAppliedHandler { version in appliedSink.yield(version) }
        // The first policy load happens before any listener binds, so `/readyz` (ready once
        // every listener is up) can never answer 200 before it.
        try await control.start()
        for (sandbox, address, reason) in await control.unclaimableAddresses() {
            logger.warning("a stored source address identifies no sandbox any more", metadata: [
                "sandbox": "\(sandbox)", "address": "\(address)", "reason": "\(reason)",
            ])
        }
        for id in await control.unopenedAuthorities.sorted() {
            logger.error("the CA key of a sandbox does not open under the secrets key: none of its connections is terminated",
                         metadata: ["sandbox": "\(id)"])
        }
        for id in await control.unopenedCredentials.sorted() {
            logger.error("the value of a credential does not open under the secrets key: its placeholders are refused",
                         metadata: ["credential": "\(id)"])
        }
        let newAdminKey = try await control.ensureAdminKey(token: config.adminToken)

        var gatewayConfig = GatewayConfiguration()
        gatewayConfig.httpBind = try SocketAddress(ipAddress: config.proxy.host, port: config.proxy.port)
        gatewayConfig.socksBind = try config.socks.map { try SocketAddress(ipAddress: $0.host, port: $0.port) }
        gatewayConfig.dnsBind = try config.dns.map { try SocketAddress(ipAddress: $0.host, port: $0.port) }
        gatewayConfig.transparentBind = try config.transparent.map { try SocketAddress(ipAddress: $0.host, port: $0.port) }
        gatewayConfig.upstreamDNS = try config.upstreamDNS.map { try SocketAddress(ipAddress: $0.host, port: $0.port) }
        gatewayConfig.hostsFilePath = config.hostsFile
        gatewayConfig.useSystemResolver = config.useSystemResolver
        var termination = TerminationSettings()
        termination.upstreamTrust = upstreamTrust
        gatewayConfig.tls = SandboxTLS(settings: termination, snapshot: { registry.snapshot })
        let audit = BroadcastingAuditRepository(base: store, broadcaster: control.broadcaster)
        let pendingEvicted = Counter(label: "portcullis_pending_evicted_total")
        let gateway = Gateway(configuration: gatewayConfig, registry: registry, auditRepository: audit, pendingRecorder: { event in
            guard event.joinsPending, let sandboxID = event.sandboxID else { return }
            do {
                // A DNS question has no port yet: its pending entry covers every port (docs/dns.md).
                let port = event.via == AuditVia.dns ? nil : event.port.flatMap { UInt16(exactly: $0) }
                let evicted = try await control.recordPending(sandboxID: sandboxID, host: event.host, port: port, at: event.time)
                if evicted > 0 { pendingEvicted.increment(by: evicted) }
            } catch {
                logger.error("could not record a pending entry", metadata: ["sandbox": "\(sandboxID)", "error": "\(error)"])
            }
        }, logger: logger)

        let apiPort = OneShot<Int>()
        let announced = Mutex(false)
        let api = try APIServer.application(
            control: control, host: config.api.host, port: config.api.port, logger: logger, limits: config.apiLimits,
            readiness: { announced.withLock { $0 } },
            metrics: {
                var buffer: [UInt8] = []
                prometheus.emit(into: &buffer)
                return String(decoding: buffer, as: UTF8.self)
            },
            onServerRunning: { port in
                apiPort.set(port)
                // The API, the dashboard and /metrics are never reachable through the gateway.
                if let address = try? SocketAddress(ipAddress: config.api.host, port: port) { gateway.protect(address) }
            })
        let retention = RetentionService(store: store, days: config.auditRetentionDays, logger: logger)
        let startedAt = Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
        let identity = OneShot<NodeRecord>()
        let announcer = ReadinessAnnouncer(ready: {
            guard let port = await apiPort.value(), let bound = await gateway.listeningAddresses() else { return nil }
            func at(_ configured: HostAndPort?, _ address: SocketAddress?) -> HostAndPort? {
                guard let configured, let port = address?.port else { return nil }
                return HostAndPort(host: configured.host, port: port)
            }
            var ready = ReadyAddresses(api: HostAndPort(host: config.api.host, port: port),
                                       proxy: HostAndPort(host: config.proxy.host, port: bound.http?.port ?? config.proxy.port),
                                       socks: at(config.socks, bound.socks), dns: at(config.dns, bound.dns))
            ready.transparent = at(config.transparent, bound.transparent)
            return ready
        }, announce: { ready in
            let node = NodeIdentity.record(config: config, ready: ready, startedAt: startedAt)
            store.setNodeID(node.id)
            identity.set(node)
            await control.setProxyEndpoints(ProxyEndpoints(host: ready.proxy.host, httpPort: ready.proxy.port,
                                                           socksPort: ready.socks?.port ?? socksPort(config)))
            announced.withLock { $0 = true }
            output(Banner.text(ready, adminKey: newAdminKey))
            onReady(ready)
        })
        var groupConfig = ServiceGroupConfiguration(
            // The data plane first (audit writer, shared resources, one service per listener):
            // stopped last, after the API, it drains its connections and then the audit.
            services: gateway.services.map { .init(service: $0) } + [
                .init(service: api),
                .init(service: retention),
                .init(service: KeepAliveService(broadcaster: control.broadcaster)),
                .init(service: announcer),
                .init(service: FleetServices(
                    identity: identity,
                    sync: PolicySyncService(control: control, doorbell: doorbell, interval: config.syncInterval,
                                            status: status, logger: logger),
                    store: store, status: status, applied: appliedVersions,
                    tail: config.databaseURL == nil ? nil : AuditTailService(
                        store: store, broadcaster: control.broadcaster,
                        nodeID: { identity.current?.id ?? "" }, logger: logger),
                    logger: logger)),
            ],
            gracefulShutdownSignals: signals,
            logger: logger)
        // Drain for a bounded time, then cancel what is left.
        groupConfig.maximumGracefulShutdownDuration = .seconds(20)
        groupConfig.maximumCancellationDuration = .seconds(5)
        do {
            try await ServiceGroup(configuration: groupConfig).run()
        } catch {
            // A service that fails (a listener that cannot bind) still leaves the store closed cleanly.
            try? await store.shutdown()
            throw error
        }
        try await store.shutdown()
    }
}

/// The secrets key `serve` runs with (`SecretsKeyCheck`): read from `--secrets-key-file`
/// (created in the data directory for a database that holds no secrets yet), or a
/// `StartupError` naming the file.
func loadSecretsKey(_ config: ServeConfiguration, store: any Store, logger: Logger) async throws -> SecretsKey {
    let path = config.secretsKeyPath
    if config.secretsKeyFile == nil {
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
    }
    do {
        let loaded = try await SecretsKeyCheck.load(path: path, store: store)
        if loaded.created { logger.notice("created a new secrets key", metadata: ["file": "\(path)"]) }
        if let warning = SecretsKeyFile.permissionWarning(path) { logger.warning("\(warning)") }
        return loaded.key
    } catch let error as SecretsError {
        throw StartupError(error.message)
    }
}

/// The SOCKS5 port a sandbox's `proxy.socks_url` names. With `--socks off` nothing listens
/// there; the field stays (the API requires it) with the default port (docs/api.md says so).
func socksPort(_ config: ServeConfiguration) -> Int { config.socks?.port ?? 1080 }

/// Where the listeners ended up (ports resolved when 0 was asked for).
public struct ReadyAddresses: Sendable {
    public let api: HostAndPort
    public let proxy: HostAndPort
    /// SOCKS5; nil when off.
    public let socks: HostAndPort?
    /// The DNS gateway (UDP and TCP on the same port); nil when not started.
    public var dns: HostAndPort? = nil
    /// The transparent listener (`--transparent`), when bound.
    public var transparent: HostAndPort? = nil
}

/// Bootstraps swift-metrics once per process (it may be bootstrapped only once).
enum MetricsBootstrap {
    static let done = Mutex(false)
    static func once(_ registry: PrometheusCollectorRegistry) {
        done.withLock { done in
            guard !done else { return }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            done = true
        }
    }
}

/// Why `serve` refuses a configuration before starting anything.
public enum ServeError: Error, CustomStringConvertible {
    case nodeIDNeedsPostgres

    public var description: String {
        switch self {
        case .nodeIDNeedsPostgres:
            return "--node-id needs --database-url: a fleet of nodes shares one PostgreSQL database; on SQLite a gateway is a single node"
        }
    }
}

/// Opens the store once its pool runs (the service before this one in `serve`'s group),
/// then runs `body` on it: everything `serve` does on PostgreSQL.
struct OnStoreService: Service {
    let open: @Sendable () async throws -> SQLStore
    let body: @Sendable (SQLStore) async throws -> Void

    func run() async throws { try await body(try await open()) }
}
