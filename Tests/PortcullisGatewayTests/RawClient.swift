import NIOCore
import NIOPosix

/// A raw TCP client for hostile or hand-written input: sends bytes, collects everything
/// until the server closes (or `timeout`).
enum RawClient {
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var received = ByteBuffer()
        let done: EventLoopPromise<ByteBuffer>
        init(done: EventLoopPromise<ByteBuffer>) { self.done = done }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            received.writeBuffer(&b)
        }
        func channelInactive(context: ChannelHandlerContext) { done.succeed(received) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? ChannelEvent, case .inputClosed = e { context.close(promise: nil) }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Connects, writes `chunks` in order, then waits for the close; returns what came back.
    static func exchange(host: String = "127.0.0.1", port: Int, _ chunks: [[UInt8]], timeout: TimeAmount = .seconds(5),
                         halfClose: Bool = false) async throws -> String {
        let bytes = try await exchangeBytes(host: host, port: port, chunks, timeout: timeout, halfClose: halfClose)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func exchangeBytes(host: String = "127.0.0.1", port: Int, _ chunks: [[UInt8]], timeout: TimeAmount = .seconds(5),
                              halfClose: Bool = false) async throws -> [UInt8] {
        let loop = group.next()
        let promise = loop.makePromise(of: ByteBuffer.self)
        let channel = try await ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Collector(done: promise)) } }
            .connect(host: host, port: port).get()
        for chunk in chunks { try await channel.writeAndFlush(ByteBuffer(bytes: chunk)) }
        if halfClose { try? await channel.close(mode: .output) }
        let timer = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        let result = try await promise.futureResult.get()
        timer.cancel()
        return Array(result.readableBytesView)
    }

    /// Connects and returns the channel plus a future of everything it will have received.
    /// A loop of its own, for tests that time what the client sees (the shared one may be
    /// busy with other suites' work when they run in parallel).
    static let timingGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func open(port: Int, timing: Bool = false) async throws -> (any Channel, EventLoopFuture<ByteBuffer>, Collector) {
        let loop = timing ? timingGroup.next() : group.next()
        let promise = loop.makePromise(of: ByteBuffer.self)
        let collector = Collector(done: promise)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        return (channel, promise.futureResult, collector)
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
