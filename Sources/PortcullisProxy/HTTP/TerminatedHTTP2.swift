import NIOCore
import NIOHTTP1
import NIOHTTP2
import PortcullisAudit
import PortcullisPolicy

/// A terminated connection whose client chose HTTP/2: streams multiplexed on it, each
/// translated by NIOHTTP2's codec and decided, forwarded and logged on its own by an
/// `HTTPStreamHandler` (the same code as an HTTP/1.1 request). This handler holds what
/// belongs to the connection: its line (with the bytes it carried), the policy tracking of
/// its host, and its upstream source, closed with it.
final class TerminatedConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let env: ProxyEnvironment
    private let origin: HTTPStreamHandler.Origin
    private var record: AuditRecord?
    private var live: LiveConnection?
    /// No byte either way for `idleTimeout` closes the connection (NIOHTTP2 keeps an idle
    /// one open for ever); one timer, re-armed from the last activity.
    private var lastActivity: NIODeadline = .uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?

    init(env: ProxyEnvironment, origin: HTTPStreamHandler.Origin, record: AuditRecord?) {
        self.env = env
        self.origin = origin
        self.record = record
    }

    /// The HTTP/2 server on `channel` (after `context`'s handler, the TLS bridge), limits
    /// included: concurrent streams, header list size, flow control windows, reads held
    /// while the client does not read, a close after a GOAWAY (`HTTP2ConnectionGuard`).
    static func installHTTP2(on channel: any Channel, origin: HTTPStreamHandler.Origin, env: ProxyEnvironment,
                             record: AuditRecord?, after context: ChannelHandlerContext) throws {
        let keeper = TerminatedConnection(env: env, origin: origin, record: record)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(keeper, position: .after(context.handler))
        try pipeline.addHandler(HTTP2ConnectionGuard(), position: .after(keeper))
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: env.settings.maxHTTP2Streams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: env.settings.maxHeadBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        connection.maximumRecentlyResetStreams = 32
        // Streams are child channels on the connection's event loop: the origin (which holds
        // the upstream source) is used there only.
        let bound = NIOLoopBound(origin, eventLoop: channel.eventLoop)
        _ = try pipeline.configureHTTP2Pipeline(mode: .server, connectionConfiguration: connection,
                                                streamConfiguration: .init(), position: .last) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try HTTPStreamHandler.installHTTP2Stream(on: stream, origin: bound.value, env: env)
            }
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let channel = context.channel
        let live = LiveConnection(sandboxID: origin.sandbox.sandboxID,
                                  target: Target(host: origin.host, port: origin.port, transport: .tcp, request: .notApplicable),
                                  address: origin.address, isTunnel: true, decidedUnder: origin.sandbox.policy.version) { now in
            loop.execute {
                bound.value.record?.closeCause = .policyChanged(now)
                channel.close(promise: nil)
            }
        }
        self.live = live
        env.connections.track(live)
        lastActivity = loop.now
        arm(context, at: lastActivity + env.settings.idleTimeout)
    }

    /// Also the safety net for the live entry: a keeper added to a connection that had
    /// already closed (the client leaving as the upstream's handshake ends) never sees
    /// `channelInactive`, but is always removed when the pipeline is torn down.
    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if let live {
            env.connections.untrack(live)
            self.live = nil
        }
    }

    private func arm(_ context: ChannelHandlerContext, at due: NIODeadline) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: due) {
            let (keeper, context) = bound.value
            let idleUntil = keeper.lastActivity + keeper.env.settings.idleTimeout
            if context.eventLoop.now >= idleUntil {
                context.close(promise: nil)
            } else {
                keeper.arm(context, at: idleUntil)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = context.eventLoop.now
        record?.bytesUp += Int64(unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = context.eventLoop.now
        record?.bytesDown += Int64(unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A client that closed its side sends no more frames: the connection is over.
        if let channelEvent = event as? ChannelEvent, case .inputClosed = channelEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An error below HTTP/2 (TLS, I/O) ends the connection.
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if let live {
            env.connections.untrack(live)
            self.live = nil
        }
        origin.upstream.close()
        if let record {
            self.record = nil
            env.finish(record)
        }
        context.fireChannelInactive()
    }
}
