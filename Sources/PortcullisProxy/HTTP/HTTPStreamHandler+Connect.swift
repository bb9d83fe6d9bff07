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
        // A tunnel from here on: no forward request follows, so nothing of forward mode's box
        // (memos of identity, decision and authority) is kept for the tunnel's life.
        forwardUpstreams = nil
        let target = Target(host: host, port: port, transport: .tcp, request: .opaque)
        pendingConnect = PendingConnect(TunnelMachine(kind: .connect, target: target, sandbox: sandbox, record: record,
                                                      settings: env.settings, listeners: env.listeners,
                                                      canTerminate: env.tls != nil))
        state = .tunnelling
        awaitConnectEnd(context)
    }

    /// Hands over once the CONNECT request's `.end` has been decoded (the decoder must be
    /// out of its decode loop before it is removed: the next tick).
    func awaitConnectEnd(_ context: ChannelHandlerContext) {
        while let part = inbound.popFirst() {
            guard case .end = part, let machine = pendingConnect?.machine else { continue }
            pendingConnect = nil
            inbound.removeAll()
            let bound = NIOLoopBound((self, context, machine), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context, machine) = bound.value
                handler.becomeTunnel(machine, context)
            }
            return
        }
    }

    /// Puts the tunnel in front of this handler, where the decoder was: the decoder leaves
    /// (a CONNECT stops its parser for good), and the bytes it holds after the CONNECT head
    /// (`.forwardBytes`) reach the tunnel as its first bytes. The head guard, the encoder and
    /// this handler stay behind the tunnel, unread (`behindTunnel`): a tunnel whose first
    /// bytes are HTTP becomes an HTTP stream with them and a new decoder (`resumeInTunnel`),
    /// instead of removing four handlers here and adding four new ones then.
    private func becomeTunnel(_ machine: TunnelMachine, _ context: ChannelHandlerContext) {
        guard context.channel.isActive else {
            env.connections.closeConnection(sandboxID: machine.sandbox.sandboxID)
            env.finish(machine.record)
            return
        }
        let pipeline = context.pipeline.syncOperations
        let tunnel = TunnelHandler(machine: machine, ingress: .connect, env: env, countsConnection: true, startWhenAdded: false)
        do {
            guard encoder != nil, let decoder else { throw ChannelPipelineError.notFound }
            try pipeline.addHandler(tunnel, position: .after(decoder))
            tunnel.keptHTTP = self
            state = .behindTunnel
            self.decoder = nil
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

    /// The tunnel in front found HTTP: this handler becomes the tunnel's stream to `origin`
    /// (as `installFixed` would add one), with a new decoder after the head guard, which
    /// counts and bounds the stream's heads from now on. The tunnel then leaves and feeds
    /// the bytes it held from the pipeline's head.
    func resumeInTunnel(_ origin: Origin, tunnelRecord: AuditRecord?) throws {
        guard case .behindTunnel = state, let context, let headGuard else { throw ChannelPipelineError.notFound }
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        try context.pipeline.syncOperations.addHandler(decoder, position: .after(headGuard))
        self.decoder = decoder
        mode = .origin(origin)
        self.tunnelRecord = tunnelRecord
        state = .idle
        clientClosed = false
        headGuard.startStream()
        if tracksStream { trackStream(origin, context) }
    }

    /// The tunnel in front relays, terminates TLS or heard its upstream first: the HTTP
    /// handlers behind it leave (an opaque tunnel keeps none).
    func leaveForTunnel() {
        guard case .behindTunnel = state, let context else { return }
        state = .closed
        let pipeline = context.pipeline.syncOperations
        if let encoder { pipeline.removeHandler(encoder, promise: nil) }
        if let headGuard { pipeline.removeHandler(headGuard, promise: nil) }
        pipeline.removeHandler(context: context, promise: nil)
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
