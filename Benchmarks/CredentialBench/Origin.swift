import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PortcullisKeys

/// The bench's HTTPS origin (ALPN http/1.1, keep-alive): `/` answers "ok\n"; `/bulk?mib=N`
/// streams N MiB of text holding `secret` once per MiB, as an upstream echoing it would.
enum BenchOrigin {
    static func start(group: any EventLoopGroup, leaf: LeafCertificate, secret: String) async throws -> Int {
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: leaf.certificateDER, format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: leaf.privateKeyDER, format: .der)))
        tls.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        let chunk = Self.chunk(secret: secret)
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
                    try channel.pipeline.syncOperations.addHandler(Handler(chunk: chunk))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return server.localAddress!.port!
    }

    /// One MiB of printable text with the secret in the middle.
    static func chunk(secret: String) -> ByteBuffer {
        var bytes = [UInt8]()
        bytes.reserveCapacity(1 << 20)
        let line = Array("the quick brown fox jumps over the lazy dog 0123456789 {\"k\": \"v\"}\n".utf8)
        while bytes.count < (1 << 20) / 2 { bytes += line }
        bytes += Array(secret.utf8)
        while bytes.count < 1 << 20 { bytes += line }
        return ByteBuffer(bytes: bytes.prefix(1 << 20))
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let chunk: ByteBuffer
        var remaining = 0
        var pumping = false
        init(chunk: ByteBuffer) { self.chunk = chunk }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                var headers = HTTPHeaders()
                if head.uri.hasPrefix("/bulk") {
                    remaining = (Int(head.uri.split(separator: "=").last ?? "1") ?? 1) << 20
                    headers.add(name: "Content-Length", value: String(remaining))
                } else {
                    remaining = 0
                    headers.add(name: "Content-Length", value: "3")
                }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                if remaining == 0 { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok\n")))), promise: nil) }
            case .body:
                break
            case .end:
                if remaining > 0 { pump(context) } else { context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil) }
            }
        }

        func pump(_ context: ChannelHandlerContext) {
            guard !pumping else { return }
            pumping = true
            while remaining > 0, context.channel.isWritable {
                let n = min(remaining, chunk.readableBytes)
                remaining -= n
                context.write(wrapOutboundOut(.body(.byteBuffer(chunk.getSlice(at: 0, length: n)!))), promise: nil)
            }
            context.flush()
            pumping = false
            if remaining == 0 {
                remaining = -1
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else if remaining > 0, context.channel.isWritable {
                pump(context)
            }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable, remaining > 0 { pump(context) }
            context.fireChannelWritabilityChanged()
        }
    }
}
