import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// Hummingbird's HTTP/1 child channel with the API's head and idle timeouts: a guard at the
/// front of each connection's pipeline sees raw bytes arrive, an observer behind the HTTP
/// codec sees request heads and ends and answer ends, and both feed one
/// `APIConnectionState`.
struct BoundedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let responder: HTTPChannelHandler.Responder
    let limits: APIListenerLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let connection = APIConnectionGuard(headTimeout: TimeAmount(limits.headTimeout), idleTimeout: TimeAmount(limits.idleTimeout))
        do {
            try channel.pipeline.syncOperations.addHandler(connection, position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        let bound = NIOLoopBound(connection, eventLoop: channel.eventLoop)
        let http = HTTP1Channel(responder: responder, configuration: .init(additionalChannelHandlers: [APIRequestObserver(connection: bound)]))
        return http.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the API listener's timeouts.
    static func boundedHTTP1(_ limits: APIListenerLimits) -> HTTPServerBuilder {
        .init { responder in BoundedHTTP1Channel(responder: responder, limits: limits) }
    }
}

/// The front of an API connection's pipeline: notices bytes arriving, runs the one timer,
/// and closes the connection (408 first for a head cut short) when `APIConnectionState`
/// says so.
final class APIConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var state: APIConnectionState
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var context: ChannelHandlerContext?

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        state = APIConnectionState(headTimeout: headTimeout, idleTimeout: idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { perform(state.opened(at: .now())) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        perform(state.opened(at: .now()))
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).readableBytes > 0 { perform(state.bytesArrived(at: .now())) }
        context.fireChannelRead(data)
    }

    func headArrived() { perform(state.headArrived(at: .now())) }
    func requestEnded() { perform(state.requestEnded(at: .now())) }
    func responseEnded() { perform(state.responseEnded(at: .now())) }

    private func perform(_ action: APIConnectionState.Action) {
        guard let context else { return }
        switch action {
        case .none:
            return
        case .cancel:
            timer?.cancel()
            timer = nil
            timerDeadline = nil
        case .schedule(let deadline):
            // One timer at a time; a later deadline is picked up when an earlier timer fires.
            if let pending = timerDeadline, pending <= deadline, timer != nil { return }
            timer?.cancel()
            timerDeadline = deadline
            timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
                guard let self else { return }
                self.timer = nil
                self.timerDeadline = nil
                self.perform(self.state.timerFired(at: .now()))
            }
        case .close(let requestTimeout):
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            if requestTimeout {
                let body = #"{"error":"the request head did not arrive within the API's head timeout"}"#
                let head = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
                    + "X-Content-Type-Options: nosniff\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                context.writeAndFlush(NIOAny(ByteBuffer(string: head + body)), promise: nil)
            }
            context.close(promise: nil)
        }
    }
}

/// Behind the HTTP codec: tells the guard when a request head arrives, when a request has
/// been read whole, and when its answer has been written whole.
final class APIRequestObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let connection: NIOLoopBound<APIConnectionGuard>

    init(connection: NIOLoopBound<APIConnectionGuard>) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: connection.value.headArrived()
        case .body: break
        case .end: connection.value.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { connection.value.responseEnded() }
        context.write(data, promise: promise)
    }
}
