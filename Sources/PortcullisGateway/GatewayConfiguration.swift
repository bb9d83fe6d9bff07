import NIOCore
import PortcullisProxy

/// How the data plane listens and what limits it applies. Guard exemptions are part of the
/// compiled policies (`AddressGuard`), applied by whoever compiles them.
public struct GatewayConfiguration: Sendable {
    /// HTTP forward proxy and CONNECT; nil: not started.
    public var httpBind: SocketAddress? = try? SocketAddress(ipAddress: "127.0.0.1", port: 3128)
    /// SOCKS5; nil: not started.
    public var socksBind: SocketAddress? = try? SocketAddress(ipAddress: "127.0.0.1", port: 1080)
    /// The DNS gateway (UDP and TCP on the same address); nil: not started.
    public var dnsBind: SocketAddress?
    /// The transparent listener for redirected connections (`portcullis run`); nil: not started.
    public var transparentBind: SocketAddress?
    /// Resolvers the DNS gateway forwards to; empty: the system's (`/etc/resolv.conf`).
    public var upstreamDNS: [SocketAddress] = []
    /// `/etc/hosts`-format override, read once at start.
    public var hostsFilePath: String?
    /// Ask the system resolver for names the hosts file does not have.
    public var useSystemResolver = true
    public var resolveTimeout: TimeAmount = .seconds(5)
    public var connectTimeout: TimeAmount = .seconds(5)
    /// Open client connections across both listeners; beyond, a clear refusal.
    public var maxConnections = 10_000
    public var auditQueueCapacity = 10_000
    public var auditBatchSize = 256
    /// How long a graceful shutdown lets open connections finish.
    public var drainTimeout: TimeAmount = .seconds(10)
    public var eventLoopThreads = System.coreCount
    public var resolverThreads = 2
    public var proxy = ProxySettings()
    /// TLS for the connections the gateway terminates (INSPECTION.md); nil: none is, and a
    /// host that must be inspected is refused.
    public var tls: (any TLSProvider)?
    /// Other listeners of this process (the API's) that no sandbox may reach through the
    /// gateway, beside the gateway's own (added as they bind).
    public var protectedListeners: [SocketAddress] = []

    public init() {}
}
