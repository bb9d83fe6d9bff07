import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// Where a redirected connection was going before the host's nftables rule sent it to the
/// transparent listener (`SO_ORIGINAL_DST` / `IP6T_SO_ORIGINAL_DST`, read by the runtime).
public struct OriginalDestination: Hashable, Sendable {
    public let address: IPAddress
    public let port: UInt16
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }
}

/// The transparent listener's entry (docs/data-plane.md, "Transparent connections"): a
/// connection whose destination the sandbox fixed itself, decided and logged with
/// `via: transparent` by the same `TunnelMachine` as CONNECT and SOCKS5.
///
/// Refused at once, with an entry and a close (the client speaks no proxy protocol, so
/// nothing is written back): no readable original destination, or the listener's own
/// address (`no-original-destination`); a source address of no sandbox (`unknown-source`);
/// a sandbox at its connection limit. Otherwise the destination is attributed to the name
/// the DNS gateway handed this sandbox for it (else it stays an IP literal) and the machine
/// takes over.
public enum TransparentProxy {
    /// Adds the transparent listener's handling to an accepted channel; `destination` is
    /// what the runtime read from the socket (nil: none, the connection is refused).
    public static func install(on channel: any Channel, env: ProxyEnvironment, destination: OriginalDestination?) throws {
        try channel.pipeline.syncOperations.addHandler(TransparentEntry(env: env, destination: destination))
    }

    /// The original destination is the listener itself: the connection was not redirected.
    static func isListener(_ destination: OriginalDestination, _ local: SocketAddress?) -> Bool {
        guard let local, let ip = IPAddress(socketAddress: local), let port = local.port else { return false }
        return ip == destination.address && port == Int(destination.port)
    }
}

/// Runs the entry checks once the connection is active (its addresses known), then leaves
/// the pipeline to a `TunnelHandler` (or closes the connection).
final class TransparentEntry: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    private let env: ProxyEnvironment
    private let destination: OriginalDestination?
    private var started = false

    init(env: ProxyEnvironment, destination: OriginalDestination?) {
        self.env = env
        self.destination = destination
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)  // only between `start` and removal; the tunnel takes them
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let channel = context.channel
        var record = env.record(.transparent, client: channel.remoteAddress)
        func refuse(_ rejectedBy: String, _ reason: String) {
            record.refuse(.reject, rejectedBy, reason: reason)
            env.finish(record, thenClose: channel)
        }
        guard let destination, !TransparentProxy.isListener(destination, channel.localAddress) else {
            return refuse(AuditVocabulary.noOriginalDestination,
                          "the connection has no original destination (not redirected to the transparent listener)")
        }
        record.host = destination.address.description
        record.address = destination.address.description
        record.port = Int(destination.port)
        guard let sandbox = env.directory.authenticate(nil, source: channel.remoteAddress) else {
            return refuse(AuditVocabulary.unknownSource,
                          "the source address \(channel.remoteAddress?.ipAddress ?? "?") belongs to no sandbox")
        }
        record.identify(sandbox)
        guard env.connections.openConnection(sandboxID: sandbox.sandboxID) else {
            return refuse(AuditVocabulary.sandboxConnectionLimit,
                          "this sandbox already has \(env.settings.maxConnectionsPerSandbox) open connections")
        }
        let address = destination.address
        let host: TargetHost = env.directory.attributedName(for: address, sandboxID: sandbox.sandboxID).map { .name($0) }
            ?? .address(address)
        let directory = env.directory
        let sandboxID = sandbox.sandboxID
        let machine = TunnelMachine(kind: .transparent(destination: destination),
                                    target: Target(host: host, port: destination.port, transport: .tcp, request: .opaque),
                                    sandbox: sandbox, record: record, settings: env.settings, listeners: env.listeners,
                                    canTerminate: env.tls != nil, answeredAddresses: { directory.answeredAddresses(for: $0, sandboxID: sandboxID) })
        let tunnel = TunnelHandler(machine: machine, ingress: .transparent, env: env, countsConnection: true, startWhenAdded: false)
        do {
            try context.pipeline.syncOperations.addHandler(tunnel, position: .after(self))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            tunnel.begin()
        } catch {
            env.connections.closeConnection(sandboxID: sandbox.sandboxID)
            env.finish(record)
            channel.close(promise: nil)
        }
    }
}
