import NIOCore

/// What the head guard tells the HTTP handler.
enum HeadGuardEvent: Equatable {
    /// More than the limit arrived without a complete request head (431).
    case tooLarge
    /// The head started but did not complete within the head deadline (408): slowloris.
    case headTimedOut
    /// No request started within the idle timeout: the keep-alive connection closes.
    case idleTimedOut
}

/// Sits in front of the HTTP decoder and bounds a request head in bytes and in time.
/// The HTTP handler says when a head has been received (`headReceived`) and when the next
/// one is awaited (`awaitHead`); in between, bytes pass unexamined (bodies, tunnels).
final class HeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum State {
        case waiting(bytes: Int)
        case passing
    }

    private var state: State = .waiting(bytes: 0)
    private let limit: Int
    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(limit: Int, headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.limit = limit
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { arm(idleTimeout, .idleTimedOut) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(idleTimeout, .idleTimedOut)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    /// Every byte the client sent through this guard (a tunnel's line counts them).
    private(set) var bytesSeen: Int64 = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let n = unwrapInboundIn(data).readableBytes
        bytesSeen += Int64(n)
        switch state {
        case .passing:
            context.fireChannelRead(data)
        case .waiting(let bytes):
            state = .waiting(bytes: bytes + n)
            context.fireChannelRead(data)
            // The decoder ran synchronously: if it produced a head, we are passing now (and
            // `headReceived` cancelled the idle timer). Most heads arrive in one read, so the
            // head deadline is armed only for one that is still incomplete.
            guard case .waiting(let total) = state else { return }
            if total > limit {
                state = .passing
                timer?.cancel()
                context.fireUserInboundEventTriggered(HeadGuardEvent.tooLarge)
            } else if bytes == 0, total > 0 {
                arm(headTimeout, .headTimedOut)
            }
        }
    }

    /// A complete head arrived: stop counting and cancel the deadline.
    func headReceived() {
        state = .passing
        timer?.cancel()
        timer = nil
    }

    /// The previous request is done: count the next head and start the idle timeout.
    func awaitHead() {
        state = .waiting(bytes: 0)
        arm(idleTimeout, .idleTimedOut)
    }

    private func arm(_ amount: TimeAmount, _ event: HeadGuardEvent) {
        timer?.cancel()
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: amount) {
            let handler = bound.value
            guard let context = handler.context else { return }
            handler.state = .passing
            context.fireUserInboundEventTriggered(event)
        }
    }
}
