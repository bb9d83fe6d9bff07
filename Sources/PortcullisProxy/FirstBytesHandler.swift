import NIOCore
import PortcullisPolicy
import PortcullisWire

/// Holds a tunnel's first client bytes until `TunnelCheck` has a verdict (peek, decide,
/// remove yourself, forward the original bytes: STYLE.md §8). Upstream bytes are not held:
/// server-first protocols flow at once.
///
/// The deadline runs from the first held byte; a client that sends nothing is not a
/// problem here (a server-first protocol is waiting for its banner).
final class FirstBytesHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let check: TunnelCheck
    private let record: AttemptRecord
    private let sandbox: SandboxContext
    private let target: Target
    private let timeout: TimeAmount
    private var held: ByteBuffer?
    private var deadline: Scheduled<Void>?
    private var done = false

    init(check: TunnelCheck, record: AttemptRecord, sandbox: SandboxContext, target: Target, timeout: TimeAmount) {
        self.check = check
        self.record = record
        self.sandbox = sandbox
        self.target = target
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else {
            context.fireChannelRead(data)
            return
        }
        var bytes = unwrapInboundIn(data)
        if held == nil {
            held = bytes
        } else {
            held!.writeBuffer(&bytes)
        }
        decide(context: context)
        // The deadline runs from the first held byte; most first reads are complete (one
        // ClientHello or HTTP head), so it is armed only when the check needs more.
        if !done, deadline == nil {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                let (handler, context) = loopBound.value
                handler.reject(context: context, malformed: "the first bytes did not complete in time")
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if !done, let event = event as? ChannelEvent, case .inputClosed = event, held != nil {
            // The client closed its side mid-hello: nothing complete to check.
            reject(context: context, malformed: "the client closed before its first message was complete")
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    private func decide(context: ChannelHandlerContext) {
        guard let held else { return }
        switch check.evaluate(held) {
        case .waitForMore:
            return
        case .forward(let sni):
            done = true
            deadline?.cancel()
            record.event.sni = sni
            self.held = nil
            context.fireChannelRead(wrapInboundOut(held))
            context.fireChannelReadComplete()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .reject(let inconsistency, let sni):
            record.event.sni = sni
            let decision = sandbox.policy.reject(inconsistency, for: target)
            record.apply(decision, target: target, sandbox: sandbox)
            finishRejected(context: context)
        case .malformed(let message):
            reject(context: context, malformed: message)
        }
    }

    private func reject(context: ChannelHandlerContext, malformed message: String) {
        guard !done else { return }
        record.failure(action: "reject", rejectedBy: ProxyVocabulary.tunnelMalformed,
                       reason: message + " (\(Escape.escaped(target.host.description)))", status: nil)
        record.event.wouldReject = false
        finishRejected(context: context)
    }

    /// Writes the audit event first, then closes the tunnel.
    private func finishRejected(context: ChannelHandlerContext) {
        done = true
        deadline?.cancel()
        held = nil
        record.finish()
        context.close(promise: nil)
    }
}
