import NIOCore

/// What the head guard tells the HTTP handler.
enum HeadGuardEvent: Equatable {
    /// More than the limit arrived without a complete request head (431).
    case tooLarge
    /// The head started but did not complete within the head deadline (408): slowloris.
    case headTimedOut
    /// No request started within the idle timeout: the keep-alive connection closes.
    case idleTimedOut
    /// A request was being answered and no byte crossed the connection either way for the
    /// exchange idle timeout (a silent upstream, or a client that stopped sending its body).
    case exchangeIdleTimedOut
}

/// Sits in front of the HTTP decoder and bounds a request head in bytes and in time.
/// The HTTP handler says when a head has been received (`headReceived`) and when the next
/// one is awaited (`awaitHead`); in between, bytes pass unexamined (bodies, tunnels), and
/// with an exchange idle timeout the guard notes when bytes last crossed either way (reads
/// here, flushes of what the handlers behind it write), so that an exchange nothing moves
/// on ends.
final class HeadGuard: ChannelDuplexHandler, RemovableChannelHandler, NIOScheduledCallbackHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    /// Never unwrapped: what the handlers behind write passes as it is.
    typealias OutboundIn = IOData

    enum State {
        case waiting(bytes: Int)
        case passing
    }

    private var state: State = .waiting(bytes: 0)
    private let limit: Int
    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let exchangeIdleTimeout: TimeAmount?
    /// When a byte last crossed while a request was being answered.
    private var lastActive: NIODeadline = .uptimeNanoseconds(0)
    /// The one scheduled callback (the guard itself is its handler: no promise, future or
    /// closure per schedule), and when it fires. It may fire before `due` (a deadline that
    /// moved later since it was scheduled): it then schedules itself again for `due`.
    private var timer: NIOScheduledCallback?
    private var timerDue: NIODeadline?
    /// The deadline in force and what it means; nil: none (a head is being answered).
    private var due: NIODeadline?
    private var dueEvent: HeadGuardEvent = .idleTimedOut
    private var context: ChannelHandlerContext?

    /// `exchangeIdleTimeout`: how long a request being answered may go without a byte either
    /// way; nil: as long as it takes.
    init(limit: Int, headTimeout: TimeAmount, idleTimeout: TimeAmount, exchangeIdleTimeout: TimeAmount? = nil) {
        self.limit = limit
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
        self.exchangeIdleTimeout = exchangeIdleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { arm(firstWait, .idleTimedOut) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(firstWait, .idleTimedOut)
        context.fireChannelActive()
    }

    /// How long a new connection may stay silent before its first request: no longer than a
    /// head may take (a connection that says nothing holds a slot of the gateway's cap;
    /// between keep-alive requests the idle timeout applies).
    private var firstWait: TimeAmount { min(headTimeout, idleTimeout) }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimer()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimer()
        context.fireChannelInactive()
    }

    /// Every byte the client sent through this guard (a tunnel's line counts them).
    private(set) var bytesSeen: Int64 = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let n = unwrapInboundIn(data).readableBytes
        bytesSeen += Int64(n)
        switch state {
        case .passing:
            if exchangeIdleTimeout != nil { lastActive = context.eventLoop.now }
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
                stopTimer()
                context.fireUserInboundEventTriggered(HeadGuardEvent.tooLarge)
            } else if bytes == 0, total > 0 {
                arm(headTimeout, .headTimedOut)
            }
        }
    }

    /// The connection becomes a new stream (a CONNECT's tunnel that carries HTTP): its bytes
    /// are counted from here (the tunnel's line), and its first head is awaited.
    func startStream() {
        bytesSeen = 0
        awaitHead()
    }

    /// A complete head arrived: stop counting; the exchange idle deadline is in force, or
    /// none. A task already scheduled stays (it finds no deadline when it fires, or a later
    /// one, and moves itself on): a keep-alive connection does not schedule and cancel a
    /// task for every request.
    func headReceived() {
        state = .passing
        guard let exchangeIdleTimeout, let context else {
            due = nil
            return
        }
        lastActive = context.eventLoop.now
        arm(exchangeIdleTimeout, .exchangeIdleTimedOut)
    }

    func flush(context: ChannelHandlerContext) {
        if case .passing = state, exchangeIdleTimeout != nil { lastActive = context.eventLoop.now }
        context.flush()
    }

    /// The previous request is done: count the next head and start the idle timeout.
    func awaitHead() {
        state = .waiting(bytes: 0)
        arm(idleTimeout, .idleTimedOut)
    }

    /// Puts `event` in force `amount` from now. The scheduled task is kept when it fires no
    /// later than that (it then moves itself on), and replaced when the new deadline is
    /// earlier (a head deadline under an idle one).
    private func arm(_ amount: TimeAmount, _ event: HeadGuardEvent) {
        guard let context else { return }
        let deadline = context.eventLoop.now + amount
        due = deadline
        dueEvent = event
        if timer != nil, let timerDue, timerDue <= deadline { return }
        schedule(at: deadline, context)
    }

    private func schedule(at deadline: NIODeadline, _ context: ChannelHandlerContext) {
        timer?.cancel()
        timerDue = deadline
        timer = try? context.eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: self)
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        timerFired()
    }

    private func timerFired() {
        timer = nil
        timerDue = nil
        guard let context, var due else { return }
        if dueEvent == .exchangeIdleTimedOut, let exchangeIdleTimeout {
            due = lastActive + exchangeIdleTimeout
            self.due = due
        }
        if context.eventLoop.now < due { return schedule(at: due, context) }
        self.due = nil
        state = .passing
        context.fireUserInboundEventTriggered(dueEvent)
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
        timerDue = nil
        due = nil
    }
}
