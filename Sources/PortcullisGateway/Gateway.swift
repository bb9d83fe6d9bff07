import Logging
import NIOCore
import NIOPosix
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy
import ServiceLifecycle
import Synchronization

/// The data plane: its listeners (HTTP/CONNECT, SOCKS5, DNS, transparent), the resolver
/// pool, the connection limit and the audit queue. `serve` runs it as `services`, one
/// service each for the audit writer, the shared resources and every listener
/// (GatewayServices.swift); tests and benchmarks may call `start()` and `stop()` instead.
public final class Gateway: Sendable {
    /// The addresses actually bound (port 0 resolved).
    public struct Bound: Sendable {
        public let http: SocketAddress?
        public let socks: SocketAddress?
        public var dns: SocketAddress? = nil
        public var transparent: SocketAddress? = nil
    }

    /// The listeners a configuration asks for, in the order they are bound.
    public enum Listener: String, Sendable, CaseIterable {
        case http, socks, dns, transparent
    }

    /// What every listener shares, from `openResources()` to `release()`.
    struct Resources: @unchecked Sendable {
        let group: MultiThreadedEventLoopGroup
        let pool: NIOThreadPool
        let gate: GatewayGate
        let hosts: HostsFile
    }

    /// The listeners bound so far, their channels and the DNS forwarder.
    struct Listening: @unchecked Sendable {
        var servers: [Listener: [any Channel]] = [:]
        var http: SocketAddress?
        var socks: SocketAddress?
        var dns: SocketAddress?
        var transparent: SocketAddress?
        var forwarder: DNSForwarder?
        var complete = false

        var bound: Bound {
            var b = Bound(http: http, socks: socks)
            b.dns = dns
            b.transparent = transparent
            return b
        }
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
    let resources = Mutex<Resources?>(nil)
    /// Set once the shared resources are open (nil: they could not be).
    let resourcesReady = OneShot<Resources?>()
    let bindings = Mutex(Listening())
    /// Binds and closes under way on the shared loops: they are not shut down under one.
    let leases = LoopLeases()
    let listening = OneShot<Bound>()
    let gateBox = Mutex<GatewayGate?>(nil)
    let dnsBox = Mutex<DNSGateway?>(nil)

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
    /// The bound addresses while every configured listener is up.
    public var bound: Bound? { bindings.withLock { $0.complete ? $0.bound : nil } }
    /// The bound addresses, once every listener is up (nil if the waiting task is cancelled
    /// first, as when a listener fails and its service group ends): no one polls for readiness.
    public func listeningAddresses() async -> Bound? { await listening.value() }
    /// Open connections of one sandbox (requests in flight and tunnels).
    public func connections(of sandboxID: String) -> Int { gateBox.withLock { $0 }?.connections(of: sandboxID) ?? 0 }

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

    /// The listeners `configuration` asks for.
    public var configuredListeners: [Listener] {
        Listener.allCases.filter { listener in
            switch listener {
            case .http: return configuration.httpBind != nil
            case .socks: return configuration.socksBind != nil
            case .dns: return configuration.dnsBind != nil
            case .transparent: return configuration.transparentBind != nil
            }
        }
    }
}
