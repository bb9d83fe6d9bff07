import NIOCore
import PortcullisPolicy

/// Turns a client channel and a connected upstream into a checked tunnel:
/// client → [FirstBytesHandler → glue] ⇄ [glue] ← upstream.
/// The upstream starts reading at once (server-first protocols); the client's first bytes
/// are held until checked. The audit event is written when the client channel closes.
/// `checkFirstBytes: false` leaves the first-bytes check out: the transparent listener's own
/// handler, already in the pipeline, checks them (it may re-decide the target).
enum Tunnel {
    static func install(client: any Channel, upstream: any Channel, record: AttemptRecord, sandbox: SandboxContext,
                        target: Target, address: IPAddress, gate: any EgressGate, checkFirstBytes: Bool = true) throws {
        let (clientGlue, upstreamGlue) = GlueHandler.matchedPair(
            up: { [record] n in record.event.bytesUp += Int64(n) },
            down: { [record] n in record.event.bytesDown += Int64(n) })
        let settings = gate.settings
        // Half-close travels through the tunnel (HTTP connections close on EOF instead).
        try client.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        if checkFirstBytes {
            let check = TunnelCheck(host: target.host, maxHeldBytes: settings.maxHeldBytes)
            try client.pipeline.syncOperations.addHandler(
                FirstBytesHandler(check: check, record: record, sandbox: sandbox, target: target,
                                  timeout: settings.firstBytesTimeout))
        }
        try client.pipeline.syncOperations.addHandler(clientGlue)
        try upstream.pipeline.syncOperations.addHandler(upstreamGlue)
        if let idle = settings.tunnelIdleTimeout {
            // Traffic either way counts: reads on the client, and writes to it (upstream bytes).
            try client.pipeline.syncOperations.addHandler(TunnelIdleHandler(timeout: idle), position: .first)
        }

        let bound = NIOLoopBound((record, client), eventLoop: client.eventLoop)
        let clientLoop = client.eventLoop
        let live = LiveConnection(sandboxID: sandbox.sandboxID, target: target, address: address, isTunnel: true) { decision in
            clientLoop.execute {
                let (record, client) = bound.value
                record.event.reason += "; closed because policy version \(decision.policyVersion) rejects it: \(decision.reason)"
                client.close(promise: nil)
            }
        }
        record.live = live
        gate.track(live)
        client.closeFuture.whenComplete { _ in
            let (record, _) = bound.value
            record.finish()
            upstream.close(promise: nil)
        }
        // Same event loop: set synchronously (no future per tunnel).
        if let options = upstream.syncOptions {
            do { try options.setOption(ChannelOptions.autoRead, value: true) } catch { upstream.close(promise: nil) }
        } else {
            upstream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in upstream.close(promise: nil) }
        }
    }
}

/// Closes a tunnel's client channel after `timeout` without a byte either way. Time comes
/// from the event loop (`EventLoop.now`), so tests advance it instead of sleeping.
final class TunnelIdleHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    private let timeout: TimeAmount
    private var last: NIODeadline = .uptimeNanoseconds(0)
    private var task: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        last = context.eventLoop.now
        schedule(context, at: last + timeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) { task?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        last = context.eventLoop.now
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        last = context.eventLoop.now
        context.write(data, promise: promise)
    }

    private func schedule(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        task = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            let due = handler.last + handler.timeout
            if context.eventLoop.now >= due {
                context.close(promise: nil)
            } else {
                handler.schedule(context, at: due)
            }
        }
    }
}
