import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// A client for hostile bytes inside TLS: CONNECT through the proxy, a TLS session trusting
/// the given CA (with the given ALPN), then raw bytes; collects what comes back until the
/// close or `timeout`.
enum TLSRawClient {
    /// Waits for the CONNECT answer, then installs TLS and writes the bytes once the
    /// handshake is done.
    final class Driver: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let sni: String
        let context: NIOSSLContext
        let bytes: [UInt8]
        let done: EventLoopPromise<[UInt8]>
        var connectAnswered = false
        var head = ""
        var received: [UInt8] = []

        init(sni: String, context: NIOSSLContext, bytes: [UInt8], done: EventLoopPromise<[UInt8]>) {
            self.sni = sni
            self.context = context
            self.bytes = bytes
            self.done = done
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            guard connectAnswered else {
                head += String(buffer: buffer)
                guard head.contains("\r\n\r\n") else { return }
                guard head.hasPrefix("HTTP/1.1 200") else {
                    context.close(promise: nil)
                    return
                }
                connectAnswered = true
                do {
                    let tls = try NIOSSLClientHandler(context: self.context, serverHostname: sni)
                    try context.pipeline.syncOperations.addHandler(tls, position: .before(self))
                } catch {
                    context.close(promise: nil)
                }
                return
            }
            received += Array(buffer.readableBytesView)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event {
                context.writeAndFlush(NIOAny(ByteBuffer(bytes: bytes)), promise: nil)
            }
            if let e = event as? ChannelEvent, case .inputClosed = e { context.close(promise: nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
        func channelInactive(context: ChannelHandlerContext) { done.succeed(received) }
    }

    static func exchange(proxyPort: Int, proxyUser: String, target: String, caPEM: String, alpn: [String], bytes: [UInt8],
                         timeout: TimeAmount) async throws -> [UInt8] {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(caPEM.utf8), format: .pem)])
        configuration.applicationProtocols = alpn
        let sslContext = try NIOSSLContext(configuration: configuration)
        let sni = String(target.prefix { $0 != ":" })
        let loop = RawClient.group.next()
        let promise = loop.makePromise(of: [UInt8].self)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(Driver(sni: sni, context: sslContext, bytes: bytes, done: promise))
                }
            }
            .connect(host: "127.0.0.1", port: proxyPort).get()
        try await channel.writeAndFlush(ByteBuffer(string: connectHead(target, user: proxyUser)))
        let timer = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        let result = try await promise.futureResult.get()
        timer.cancel()
        return result
    }
}
