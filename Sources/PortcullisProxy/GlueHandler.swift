import NIOCore

/// One side of a matched pair that relays bytes between two channels on one event loop,
/// honouring back-pressure (a side reads only while its partner is writable) and
/// half-close (EOF on one side shuts the partner's output). After swift-nio-examples'
/// connect-proxy `GlueHandler`; this one also counts the bytes it relays.
///
/// The client side of a tunnel (`checkedPair`) also holds the client's first bytes until
/// `FirstBytesHold` has a verdict, and closes the tunnel after an idle timeout, with one
/// timer for both: a tunnel costs one handler on each channel, none added or removed later.
final class GlueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Half-close bookkeeping: once both directions are shut, the channel closes fully.
    private var inputClosed = false
    private var outputClosed = false
    private let onBytes: (Int) -> Void

    /// Client side of a checked pair only: the first-bytes check until its verdict.
    private var hold: FirstBytesHold?
    /// When the held bytes must have a verdict (set by the first incomplete read).
    private var holdDeadline: NIODeadline?
    /// Client side only: no byte either way for this long closes the tunnel.
    private let idleTimeout: TimeAmount?
    private var lastActivity: NIODeadline = .uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?
    private var timerDue: NIODeadline?

    private init(onBytes: @escaping (Int) -> Void, hold: FirstBytesHold? = nil, idleTimeout: TimeAmount? = nil) {
        self.onBytes = onBytes
        self.hold = hold
        self.idleTimeout = idleTimeout
    }

    /// `(clientSide, upstreamSide)`; `up` counts bytes read from the client, `down` bytes
    /// read from upstream.
    static func matchedPair(up: @escaping (Int) -> Void, down: @escaping (Int) -> Void) -> (GlueHandler, GlueHandler) {
        pair(GlueHandler(onBytes: up), GlueHandler(onBytes: down))
    }

    /// As `matchedPair`, with the client side checking the first bytes (`hold`) before it
    /// relays them, and closing the tunnel after `idleTimeout` without traffic either way.
    static func checkedPair(up: @escaping (Int) -> Void, down: @escaping (Int) -> Void, hold: FirstBytesHold?,
                            idleTimeout: TimeAmount?) -> (GlueHandler, GlueHandler) {
        pair(GlueHandler(onBytes: up, hold: hold, idleTimeout: idleTimeout), GlueHandler(onBytes: down))
    }

    private static func pair(_ first: GlueHandler, _ second: GlueHandler) -> (GlueHandler, GlueHandler) {
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private func partnerWrite(_ data: ByteBuffer) {
        if idleTimeout != nil, let context { lastActivity = context.eventLoop.now }
        context?.write(wrapOutboundOut(data), promise: nil)
    }
    private func partnerFlush() { context?.flush() }
    private func partnerWriteEOF() {
        outputClosed = true
        if inputClosed {
            context?.close(promise: nil)
        } else {
            context?.close(mode: .output, promise: nil)
        }
    }
    private func partnerCloseFull() { context?.close(promise: nil) }
    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }
    private var partnerWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let idleTimeout {
            lastActivity = context.eventLoop.now
            arm(context, at: lastActivity + idleTimeout)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if idleTimeout != nil { lastActivity = context.eventLoop.now }
        let bytes = unwrapInboundIn(data)
        if hold != nil {
            guard let checked = checkFirstBytes(bytes, context: context) else { return }
            onBytes(checked.readableBytes)
            partner?.partnerWrite(checked)
            // Held bytes may have come from a handler's removal (the HTTP decoder's or the
            // SOCKS handshake's leftovers), with no read-complete to follow: flush now.
            partner?.partnerFlush()
            return
        }
        onBytes(bytes.readableBytes)
        partner?.partnerWrite(bytes)
    }

    /// The bytes to relay once checked; nil while held or refused.
    private func checkFirstBytes(_ bytes: ByteBuffer, context: ChannelHandlerContext) -> ByteBuffer? {
        guard hold?.done == false else { return nil }  // refused: nothing is relayed
        let action = hold!.receive(bytes)  // in place: the held buffer is not copied
        switch action {
        case .wait(let armDeadline):
            if armDeadline, let timeout = hold?.timeout {
                let due = context.eventLoop.now + timeout
                holdDeadline = due
                if timerDue.map({ due < $0 }) ?? true { arm(context, at: due) }
            }
            return nil
        case .forward(let checked):
            hold = nil
            holdDeadline = nil
            return checked
        case .reject:
            refuse(context)
            return nil
        }
    }

    /// Writes the audit event of a refused tunnel first, then closes it.
    private func refuse(_ context: ChannelHandlerContext) {
        holdDeadline = nil
        hold?.record.finish()
        context.close(promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) { partner?.partnerFlush() }

    func channelInactive(context: ChannelHandlerContext) { partner?.partnerCloseFull() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            if hold != nil, case .reject? = hold!.inputClosed() {
                // The client closed its side mid-hello: nothing complete to check.
                refuse(context)
                return
            }
            inputClosed = true
            partner?.partnerWriteEOF()
            if outputClosed { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { partner?.partnerCloseFull() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }

    // MARK: - The one timer (client side): first-bytes deadline and idle timeout

    private func arm(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer?.cancel()
        timerDue = deadline
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.timerFired(context)
        }
    }

    private func timerFired(_ context: ChannelHandlerContext) {
        timer = nil
        timerDue = nil
        guard self.context != nil else { return }
        let now = context.eventLoop.now
        if let due = holdDeadline, now >= due {
            holdDeadline = nil
            if hold != nil, case .reject = hold!.timedOut() { refuse(context) }
            return
        }
        if let idleTimeout, now >= lastActivity + idleTimeout {
            context.close(promise: nil)
            return
        }
        // Traffic since: the next due time of whichever comes first.
        var next = idleTimeout.map { lastActivity + $0 }
        if let due = holdDeadline { next = next.map { min($0, due) } ?? due }
        if let next { arm(context, at: next) }
    }
}
