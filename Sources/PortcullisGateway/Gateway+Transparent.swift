import NIOCore
import NIOPosix
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy

extension Gateway {
    /// The transparent listener: connections the host redirected here (`portcullis run`'s
    /// nftables rules). Each accepted channel's original destination is read once, on its
    /// event loop, then `TransparentProxy` decides it. The global connection cap applies as
    /// on the other listeners; beyond it the connection is logged and closed (no bytes: a
    /// transparent client speaks no proxy protocol to be told why).
    func bindTransparent(_ address: SocketAddress, group: MultiThreadedEventLoopGroup,
                         gate: GatewayGate) async throws -> any Channel {
        let limiter = self.limiter
        let maximum = configuration.maxConnections
        return try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard limiter.acquire() else {
                    Self.refuseTransparent(channel, limit: maximum, gate: gate)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                limiter.remember(channel)
                return OriginalDestinationReader.read(channel).flatMapThrowing { destination in
                    try TransparentProxy.install(on: channel, gate: gate, destination: destination)
                }
            }
            .bind(to: address).get()
    }

    static func refuseTransparent(_ channel: any Channel, limit: Int, gate: GatewayGate) {
        gate.metrics.refused.increment()
        let event = AuditEvent(time: gate.now(), tenantID: nil, sandboxID: nil,
                               client: channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown",
                               via: AuditVocabulary.viaTransparent, host: "", port: nil,
                               action: "error", rejectedBy: "connection-limit",
                               reason: "refused: the gateway is at its limit of \(limit) open connections",
                               status: nil, policyVersion: gate.registry.snapshot.version)
        gate.record(event)
        channel.close(promise: nil)
    }
}
