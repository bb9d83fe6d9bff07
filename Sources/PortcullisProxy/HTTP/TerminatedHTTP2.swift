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

    init(env: ProxyEnvironment, origin: HTTPStreamHandler.Origin, record: AuditRecord?) {
        self.env = env
        self.origin = origin
        self.record = record
    }

    /// The HTTP/2 server on `channel` (after `context`'s handler, the TLS bridge), limits
    /// included: concurrent streams, header list size, flow control windows.
    static func installHTTP2(on channel: any Channel, origin: HTTPStreamHandler.Origin, env: ProxyEnvironment,
                             record: AuditRecord?, after context: ChannelHandlerContext) throws {
        let keeper = TerminatedConnection(env: env, origin: origin, record: record)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(keeper, position: .after(context.handler))
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
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        record?.bytesUp += Int64(unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        record?.bytesDown += Int64(unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
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
