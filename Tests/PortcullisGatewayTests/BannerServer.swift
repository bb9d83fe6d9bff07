import NIOCore
import NIOPosix

/// A server-first upstream: writes a banner on connect, then echoes.
final class BannerServer: Sendable {
    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let banner: String
        init(banner: String) { self.banner = banner }
        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(ByteBuffer(string: banner)), promise: nil)
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.writeAndFlush(data, promise: nil) }
    }

    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.group = group
        self.channel = channel
    }

    static func start(banner: String) async throws -> BannerServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Handler(banner: banner)) } }
            .bind(host: "127.0.0.1", port: 0).get()
        return BannerServer(group: group, channel: channel)
    }

    func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}
