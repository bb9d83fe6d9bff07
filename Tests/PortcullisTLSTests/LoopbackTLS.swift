import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import PortcullisKeys
import PortcullisModel
import PortcullisTLS
import Synchronization

/// How one handshake ended: the ALPN protocol negotiated, or the error.
enum HandshakeOutcome: Sendable {
    case completed(alpn: String?)
    case failed(String, reason: @Sendable (String) -> String?)

    /// `SandboxTLS.upstreamFailureReason` of the error, for the host named.
    func reason(host: String) -> String? {
        if case .failed(_, let reason) = self { return reason(host) }
        return nil
    }

    var succeeded: Bool {
        if case .completed = self { return true }
        return false
    }

    var alpn: String? {
        if case .completed(let p) = self { return p }
        return nil
    }
}

/// Reports the first of: the TLS handshake completing, an error, the channel closing, a timeout.
final class HandshakeWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let promise: EventLoopPromise<HandshakeOutcome>
    private let done = Mutex(false)

    init(promise: EventLoopPromise<HandshakeOutcome>) { self.promise = promise }

    var outcome: EventLoopFuture<HandshakeOutcome> { promise.futureResult }

    func finish(_ outcome: HandshakeOutcome) {
        guard done.withLock({ d in defer { d = true }; return !d }) else { return }
        promise.succeed(outcome)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = tls { finish(.completed(alpn: negotiated)) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failed("\(error)", reason: { SandboxTLS.upstreamFailureReason(error, host: $0) }))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failed("closed before the handshake completed", reason: { _ in nil }))
        context.fireChannelInactive()
    }
}

/// TLS servers and clients on 127.0.0.1, real sockets (EmbeddedChannel hangs with NIOSSL).
final class LoopbackTLS: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channels = Mutex<[any Channel]>([])

    /// A server whose every connection gets `makeHandler()` as its TLS handler; the outcome of
    /// each server-side handshake is ignored (the client reports).
    func server(_ makeHandler: @escaping @Sendable () throws -> any ChannelHandler) async throws -> Int {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try makeHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        channels.withLock { $0.append(channel) }
        return channel.localAddress!.port!
    }

    /// A TLS server presenting `certificate` (with its key), offering `alpn`.
    func server(certificateDER: [UInt8], keyDER: [UInt8], alpn: [String] = ["http/1.1"]) async throws -> Int {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: certificateDER, format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: keyDER, format: .der)))
        configuration.applicationProtocols = alpn
        let context = try NIOSSLContext(configuration: configuration)
        return try await server { NIOSSLServerHandler(context: context) }
    }

    /// Connects to `port` with the TLS handler `makeHandler()` builds and reports the handshake.
    func handshake(port: Int, _ makeHandler: @escaping @Sendable () throws -> any ChannelHandler) async throws -> HandshakeOutcome {
        let promise = group.next().makePromise(of: HandshakeOutcome.self)
        let watcher = HandshakeWatcher(promise: promise)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try makeHandler())
                    try channel.pipeline.syncOperations.addHandler(watcher)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(10)) { watcher.finish(.failed("timed out", reason: { _ in nil })) }
        let outcome = try await watcher.outcome.get()
        timeout.cancel()
        try? await channel.close()
        return outcome
    }

    /// A client handshake that trusts only `authority`, sends `sni` and offers `alpn`.
    func handshake(port: Int, trusting authority: SandboxCertificateAuthority, sni: String,
                   alpn: [String] = ["http/1.1"]) async throws -> HandshakeOutcome {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: authority.certificateDER, format: .der)])
        configuration.applicationProtocols = alpn
        let context = try NIOSSLContext(configuration: configuration)
        return try await handshake(port: port) { try NIOSSLClientHandler(context: context, serverHostname: sni) }
    }

    func shutdown() async {
        for channel in channels.withLock({ $0 }) { try? await channel.close() }
        try? await group.shutdownGracefully()
    }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let time: Mutex<Date>
    init(_ start: Date = Date()) { time = Mutex(start) }
    var now: Date { time.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
