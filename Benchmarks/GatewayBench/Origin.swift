import NIOCore
import NIOHTTP1
import NIOPosix

/// A loopback origin: `/` answers 3 bytes, `/bulk?mb=N` streams N MiB, keep-alive honoured.
enum Origin {
    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        var keepAlive = true
        var remaining = 0
        var pumping = false
        var context: ChannelHandlerContext?
        static let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                keepAlive = head.isKeepAlive
                var headers = HTTPHeaders()
                if head.uri.hasPrefix("/bulk") {
                    let mb = Int(head.uri.split(separator: "=").last ?? "64") ?? 64
                    remaining = mb << 20
                    headers.add(name: "Content-Length", value: String(remaining))
                } else {
                    remaining = 0
                    headers.add(name: "Content-Length", value: "3")
                }
                if !keepAlive { headers.add(name: "Connection", value: "close") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                if remaining == 0 {
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok\n")))), promise: nil)
                }
            case .body:
                break
            case .end:
                if remaining > 0 { pump(context) } else { finish(context) }
            }
        }

        func finish(_ context: ChannelHandlerContext) {
            let close = !keepAlive
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in if close { channel.close(promise: nil) } }
        }

        func pump(_ context: ChannelHandlerContext) {
            // Flushing can change writability and call back in here: one pump at a time.
            guard !pumping else { return }
            pumping = true
            while remaining > 0, context.channel.isWritable {
                let n = min(remaining, Handler.chunk.readableBytes)
                remaining -= n
                context.write(wrapOutboundOut(.body(.byteBuffer(Handler.chunk.getSlice(at: 0, length: n)!))), promise: nil)
            }
            context.flush()
            pumping = false
            if remaining == 0 {
                remaining = -1
                finish(context)
            } else if remaining > 0, context.channel.isWritable {
                pump(context)  // writability came back during the flush
            }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable, remaining > 0 { pump(context) }
            context.fireChannelWritabilityChanged()
        }
    }

    static func run(port: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 4096)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
                    try channel.pipeline.syncOperations.addHandler(Handler())
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        say("ready \(server.localAddress!.port!)")
        flushOutput()
        try await server.closeFuture.get()
    }
}
