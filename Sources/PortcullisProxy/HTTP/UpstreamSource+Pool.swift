import NIOCore
import NIOHTTP1
import NIOHTTP2
import PortcullisPolicy

/// An upstream that speaks HTTP/2: one connection, a stream per request (each behind
/// NIOHTTP2's HTTP/1 codec, so the stream handler treats it as any upstream).
final class HTTP2Upstream: UpstreamSource {
    let channel: any Channel
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer

    /// Configures `channel` (a connected upstream whose TLS chose h2) as an HTTP/2 client.
    init(channel: any Channel, settings: ProxySettings) throws {
        self.channel = channel
        multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()) { stream in
            // The upstream opens no streams of its own (no server push).
            stream.close()
        }
    }

    func acquire(on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamHTTPHandler> {
        guard channel.isActive else {
            return eventLoop.makeFailedFuture(UpstreamUnavailable(description: "the upstream connection is closed"))
        }
        let promise = channel.eventLoop.makePromise(of: (any Channel).self)
        let handler = UpstreamHTTPHandler()
        let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        multiplexer.createStreamChannel(promise: promise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .https))
                try stream.pipeline.syncOperations.addHandler(bound.value)
            }
        }
        return promise.futureResult.map { _ in bound.value }
    }

    /// A stream carries one request: it ends with its response (or is reset).
    func release(_ handler: UpstreamHTTPHandler, reusable: Bool) -> Bool {
        if !reusable { handler.channel?.close(promise: nil) }
        return false
    }

    func closed(_ handler: UpstreamHTTPHandler) -> Bool { !channel.isActive }

    func close() { channel.close(promise: nil) }
}

/// An HTTP/1.1 upstream for an HTTP/2 client (the gateway translates): requests on
/// concurrent streams each take a connection of their own; connections are kept for the
/// next request and dialled (TCP, then verified TLS) as needed, up to a bound.
final class HTTP1Pool: UpstreamSource {
    private var idle: [UpstreamHTTPHandler] = []
    private var waiters: [EventLoopPromise<UpstreamHTTPHandler>] = []
    private var open = 0
    private var closing = false
    private let maximum: Int
    private let dial: (any EventLoop) -> EventLoopFuture<any Channel>

    /// `first`: the connection the tunnel already has; `dial`: a new connection to the same
    /// address, TLS included (its handshake done).
    init(first: any Channel, maximum: Int, dial: @escaping (any EventLoop) -> EventLoopFuture<any Channel>) throws {
        self.maximum = max(1, maximum)
        self.dial = dial
        idle.append(try Self.prepare(first))
        open = 1
    }

    static func prepare(_ channel: any Channel) throws -> UpstreamHTTPHandler {
        let handler = UpstreamHTTPHandler()
        try channel.pipeline.syncOperations.addUpstreamHTTPHandlers(handler)
        return handler
    }

    func acquire(on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamHTTPHandler> {
        while let handler = idle.popLast() {
            if handler.channel?.isActive == true { return eventLoop.makeSucceededFuture(handler) }
            open -= 1
        }
        guard open < maximum else {
            let promise = eventLoop.makePromise(of: UpstreamHTTPHandler.self)
            waiters.append(promise)
            return promise.futureResult
        }
        open += 1
        return dial(eventLoop).flatMapThrowing { channel in try Self.prepare(channel) }.flatMapErrorThrowing { [self] error in
            open -= 1
            throw UpstreamUnavailable(description: "a new upstream connection failed: \(error)")
        }
    }

    func release(_ handler: UpstreamHTTPHandler, reusable: Bool) -> Bool {
        guard reusable, !closing, handler.channel?.isActive == true else {
            handler.channel?.close(promise: nil)
            open -= 1
            return false
        }
        if !waiters.isEmpty {
            waiters.removeFirst().succeed(handler)
        } else {
            idle.append(handler)
        }
        return false
    }

    func closed(_ handler: UpstreamHTTPHandler) -> Bool {
        if let i = idle.firstIndex(where: { $0 === handler }) {
            idle.remove(at: i)
            open -= 1
        }
        return false
    }

    func close() {
        closing = true
        for handler in idle { handler.channel?.close(promise: nil) }
        idle = []
        for waiter in waiters { waiter.fail(UpstreamUnavailable(description: "the client connection closed")) }
        waiters = []
    }
}
