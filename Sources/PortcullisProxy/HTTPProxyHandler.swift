import NIOCore
import NIOHTTP1
import PortcullisModel
import PortcullisPolicy
import PortcullisWire

/// The HTTP/1.1 forward proxy and CONNECT front end of one client connection.
///
/// Every request is decided on its own (method and path are visible, so endpoint rules
/// apply), in this order: head size → request target (400) → identity (407) → Host vs URI
/// (`host-mismatch`) → per-sandbox limit (429) → name stage → resolution → address stage →
/// dial. One audit event per request, written when its response ends.
///
/// Reads are withheld while a request waits for its upstream, and while a response is
/// being relayed, so pipelined requests queue in one read buffer at most.
public final class HTTPProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    /// One forwarded request in flight.
    final class Exchange {
        let head: HTTPRequestHead
        let record: AttemptRecord
        let target: Target
        let sandbox: SandboxContext
        let keepAlive: Bool
        var upstream: UpstreamHTTPHandler?
        var upstreamChannel: (any Channel)?
        var upstreamAddress: IPAddress?
        var buffered: [HTTPServerRequestPart] = []
        var requestComplete = false
        var responseStarted = false
        var upstreamKeepAlive = true

        init(head: HTTPRequestHead, record: AttemptRecord, target: Target, sandbox: SandboxContext, keepAlive: Bool) {
            self.head = head
            self.record = record
            self.target = target
            self.sandbox = sandbox
            self.keepAlive = keepAlive
        }
    }

    /// An upstream connection kept for the next request to the same place.
    struct IdleUpstream {
        let sandboxID: String
        let host: TargetHost
        let port: UInt16
        let address: IPAddress
        let channel: any Channel
        let handler: UpstreamHTTPHandler
        let live: LiveConnection
    }

    enum State {
        case idle
        /// A response of the gateway's own was written; the rest of the request is dropped.
        case discarding(close: Bool)
        case connecting(Exchange)
        case forwarding(Exchange)
        /// CONNECT accepted: the HTTP handlers are being replaced by the tunnel.
        case tunnelling
        case closed
    }

    let gate: any EgressGate
    let headGuard: HeadGuard
    var state: State = .idle
    var context: ChannelHandlerContext?
    var queued = CircularBuffer<HTTPServerRequestPart>()
    var pendingRead = false
    var idleUpstream: IdleUpstream?
    /// A CONNECT waits for its request's `.end` before dialling, so the decoder has finished
    /// with the head before the tunnel replaces it.
    var connectOnEnd: (() -> Void)?
    /// True while a CONNECT's dial is started from inside the decoder's read loop.
    var insideDecoder = false
    /// The HTTP handlers in front of this one, removed when a CONNECT becomes a tunnel
    /// (kept here so that needs no search of the pipeline by type).
    var decoder: ByteToMessageHandler<HTTPRequestDecoder>?
    var encoder: HTTPResponseEncoder?

    init(gate: any EgressGate, headGuard: HeadGuard) {
        self.gate = gate
        self.headGuard = headGuard
    }

    /// Adds the HTTP proxy handlers to a client channel's pipeline.
    public static func install(on channel: any Channel, gate: any EgressGate) throws {
        let settings = gate.settings
        let headGuard = HeadGuard(limit: settings.maxHeadBytes, headTimeout: settings.headTimeout,
                                  idleTimeout: settings.idleTimeout)
        let handler = HTTPProxyHandler(gate: gate, headGuard: headGuard)
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        let encoder = HTTPResponseEncoder()
        handler.decoder = decoder
        handler.encoder = encoder
        try channel.pipeline.syncOperations.addHandlers([headGuard, decoder, encoder, handler])
    }

    public func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    public func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    var clientWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: - Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Note to maintainers: on close, the decoder (`.forwardBytes`) surfaces leftover raw
        // bytes as it is removed; after a CONNECT or once closed, nothing here may unwrap them.
        switch state {
        case .tunnelling:
            if let start = connectOnEnd, case .end = unwrapInboundIn(data) {
                connectOnEnd = nil
                // The dial starts at once; an outcome that arrives while we are still inside
                // the decoder's loop waits one tick (`dial`), since the tunnel removes the decoder.
                insideDecoder = true
                start()
                insideDecoder = false
            }
            return
        case .closed: return
        case .idle, .discarding, .connecting, .forwarding: break
        }
        handle(unwrapInboundIn(data), context: context)
    }

    func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch state {
        case .idle:
            guard case .head(let head) = part else { return }  // stray body after a finished request
            headGuard.headReceived()
            start(head, context: context)
        case .discarding(let close):
            if case .end = part {
                if close {
                    state = .closed
                    context.close(promise: nil)
                } else {
                    becomeIdle(context: context)
                }
            }
        case .connecting(let exchange):
            if exchange.requestComplete {
                queued.append(part)
            } else {
                exchange.buffered.append(part)
                if case .end = part { exchange.requestComplete = true }
            }
        case .forwarding(let exchange):
            if exchange.requestComplete {
                queued.append(part)
                return
            }
            forwardBody(part, exchange)
        case .tunnelling, .closed:
            return
        }
    }

    func forwardBody(_ part: HTTPServerRequestPart, _ exchange: Exchange) {
        switch part {
        case .head:
            return
        case .body(let bytes):
            exchange.record.event.bytesUp += Int64(bytes.readableBytes)
            exchange.upstream?.send(.body(.byteBuffer(bytes)), flush: false)
        case .end(let trailers):
            exchange.requestComplete = true
            exchange.upstream?.send(.end(trailers?.removingHopByHop()), flush: true)
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if case .forwarding(let exchange) = state { exchange.upstreamChannel?.flush() }
        context.fireChannelReadComplete()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? HeadGuardEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch event {
        case .idleTimedOut:
            state = .closed
            context.close(promise: nil)
        case .tooLarge:
            let record = AttemptRecord(gate: gate, client: context.remoteAddress.auditText, via: AuditVocabulary.viaHTTP)
            respond(.headersTooLarge(limit: gate.settings.maxHeadBytes), record: record, rejectedBy: ProxyVocabulary.badRequest,
                    action: "error", close: true, closeNow: true, context: context)
        case .headTimedOut:
            let record = AttemptRecord(gate: gate, client: context.remoteAddress.auditText, via: AuditVocabulary.viaHTTP)
            respond(.requestTimeout(), record: record, rejectedBy: ProxyVocabulary.badRequest, action: "error",
                    close: true, closeNow: true, context: context)
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A parse error from the decoder (malformed request): 400 once, then close.
        switch state {
        case .idle, .discarding:
            let record = AttemptRecord(gate: gate, client: context.remoteAddress.auditText, via: AuditVocabulary.viaHTTP)
            respond(.badRequest("malformed HTTP request"), record: record, rejectedBy: ProxyVocabulary.badRequest,
                    action: "error", close: true, closeNow: true, context: context)
        case .connecting, .forwarding, .tunnelling, .closed:
            state = .closed
            context.close(promise: nil)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        connectOnEnd = nil
        switch previous {
        case .connecting(let exchange), .forwarding(let exchange):
            exchange.upstreamChannel?.close(promise: nil)
            exchange.record.finish()
        case .idle, .discarding, .tunnelling, .closed:
            break
        }
        dropIdleUpstream()
        context.fireChannelInactive()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .forwarding(let exchange) = state { exchange.upstream?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Outbound

    public func read(context: ChannelHandlerContext) {
        let allowed: Bool
        switch state {
        case .idle, .discarding: allowed = true
        case .connecting, .tunnelling, .closed: allowed = false
        case .forwarding(let exchange):
            allowed = !exchange.requestComplete && (exchange.upstreamChannel?.isWritable ?? false)
        }
        if allowed {
            context.read()
        } else {
            pendingRead = true
        }
    }

    func resumeReading(context: ChannelHandlerContext) {
        if pendingRead {
            pendingRead = false
            read(context: context)
        }
    }

    func upstreamBecameWritable() {
        if let context { resumeReading(context: context) }
    }
}
