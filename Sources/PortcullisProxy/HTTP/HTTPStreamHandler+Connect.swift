import NIOCore
import NIOHTTP1
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

extension HTTPStreamHandler {
    /// CONNECT (RFC 9110 §9.3.6) on the forward proxy: identified and counted here; once
    /// the request's end is seen, the HTTP handlers leave and a `TunnelHandler` decides,
    /// dials, answers and relays.
    func startConnect(host: TargetHost, port: UInt16, sandbox: SandboxContext, record: AuditRecord,
                      _ context: ChannelHandlerContext) {
        var record = record
        record.identify(sandbox)
        guard env.connections.openConnection(sandboxID: sandbox.sandboxID) else {
            return refuse(.tooManyRequests(retryAfterSeconds: 1, limit: env.settings.maxConnectionsPerSandbox), record: &record,
                          .reject, AuditVocabulary.sandboxConnectionLimit, close: true, context)
        }
        dropIdleUpstream()
        let target = Target(host: host, port: port, transport: .tcp, request: .opaque)
        pendingConnect = TunnelMachine(kind: .connect, target: target, sandbox: sandbox, record: record, settings: env.settings,
                                       listeners: env.listeners, canTerminate: env.tls != nil)
        state = .tunnelling
        awaitConnectEnd(context)
    }

    /// Hands over once the CONNECT request's `.end` has been decoded (the decoder must be
    /// out of its decode loop before it is removed: the next tick).
    func awaitConnectEnd(_ context: ChannelHandlerContext) {
        while let part = inbound.popFirst() {
            guard case .end = part, let machine = pendingConnect else { continue }
            pendingConnect = nil
            inbound.removeAll()
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = bound.value
                handler.becomeTunnel(machine, context)
            }
            return
        }
    }

    /// Replaces the HTTP handlers by the tunnel. The decoder goes last, so the bytes it holds
    /// after the CONNECT head (`.forwardBytes`) reach the tunnel as its first bytes.
    private func becomeTunnel(_ machine: TunnelMachine, _ context: ChannelHandlerContext) {
        guard context.channel.isActive else {
            env.connections.closeConnection(sandboxID: machine.sandbox.sandboxID)
            env.finish(machine.record)
            return
        }
        let pipeline = context.pipeline.syncOperations
        let tunnel = TunnelHandler(machine: machine, ingress: .connect, env: env, countsConnection: true, startWhenAdded: false)
        do {
            guard let encoder, let decoder else { throw ChannelPipelineError.notFound }
            try pipeline.addHandler(tunnel, position: .last)
            pipeline.removeHandler(encoder, promise: nil)
            if let headGuard { pipeline.removeHandler(headGuard, promise: nil) }
            pipeline.removeHandler(context: context, promise: nil)
            pipeline.removeHandler(decoder, promise: nil)
            tunnel.begin()
            if pendingRead {
                pendingRead = false
                context.channel.read()
            }
        } catch {
            env.connections.closeConnection(sandboxID: machine.sandbox.sandboxID)
            env.finish(machine.record)
            context.close(promise: nil)
        }
    }
}

/// The runtime's entry to the HTTP forward proxy (the handlers themselves stay internal).
public enum HTTPProxy {
    /// Adds the forward proxy's handlers (head guard, HTTP codecs, stream handler) to an
    /// accepted channel.
    public static func install(on channel: any Channel, env: ProxyEnvironment) throws {
        try HTTPStreamHandler.installForward(on: channel, env: env)
    }
}
