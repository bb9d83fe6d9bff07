import NIOCore
import NIOHTTP1
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// One HTTP/1.x client stream, whichever way it came: the forward proxy's listener
/// (`Mode.forward`: every request names its host, CONNECT turns the connection into a
/// tunnel), or plain HTTP found inside a CONNECT, SOCKS5 or transparent tunnel
/// (`Mode.origin`: every request must name the tunnel's host and goes to its upstream).
///
/// Every request, in order, pipelined or not:
/// 1. is checked strictly (`RequestHeadCheck`): anything a lenient upstream could read
///    otherwise is refused with 400 before anything is forwarded;
/// 2. is decided on its own, with its method and canonical path (forward mode: identity,
///    name stage, resolution, address stage, dial; origin mode: the name and address
///    stages on the tunnel's address);
/// 3. is written upstream by the gateway itself: the head rebuilt from the checked parts
///    (canonical path, the query unchanged, hop-by-hop fields dropped, Host set), the body
///    re-framed as it was decoded (Content-Length or chunked) — never passed raw;
/// 4. gets its own audit entry, with its status, bytes and duration.
/// A refused request gets the gateway's own response and, where the framing allows, the
/// connection stays usable for the next. Requests are answered in order: the next one is
/// not started before the previous response ended; what a client pipelines meanwhile is
/// held (one read's worth at most: reads stop while anything waits).
final class HTTPStreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The one place a tunnel's HTTP stream may go.
    struct Origin {
        let host: TargetHost
        let port: UInt16
        /// The address the tunnel dialled (every request is decided on it).
        let address: IPAddress
        let sandbox: SandboxContext
        let via: AuditVia
        let upstream: any UpstreamSource
        /// TLS the gateway terminated (INSPECTION.md): another host than the SNI's is 421
        /// `authority-mismatch`, and entries say `terminated`.
        var terminated = false

        /// What every entry of the stream says before its request is read: the sandbox, the
        /// tunnel's host, port and address, and for terminated TLS the SNI (which named the host).
        func stamp(_ record: inout AuditRecord) {
            record.identify(sandbox)
            record.host = host.description
            record.port = Int(port)
            record.address = address.description
            record.terminated = terminated
            if terminated { record.sni = host.description }
        }
    }

    enum Mode {
        case forward
        case origin(Origin)
    }

    enum State {
        case idle
        /// The gateway answered this request itself; the rest of it is dropped, then the
        /// connection idles (or closes).
        case discarding(close: Bool)
        case connecting(Exchange)
        case forwarding(Exchange)
        /// A CONNECT was accepted: the tunnel is being put in front of this handler.
        case tunnelling
        /// The tunnel is in front (`becomeTunnel`) and this handler waits, reads passing, for
        /// its first bytes: HTTP makes it the tunnel's stream (`resumeInTunnel`), anything
        /// else removes it with the other HTTP handlers (`leaveForTunnel`).
        case behindTunnel
        case closed
    }

    let env: ProxyEnvironment
    /// Forward, until a CONNECT's tunnel carries HTTP: then origin (`resumeInTunnel`).
    var mode: Mode
    /// Bounds request heads in bytes and time on a byte stream (nil on an HTTP/2 stream,
    /// whose frames the HTTP/2 handler bounds).
    let headGuard: HeadGuard?
    /// The requests arrive on one HTTP/2 stream (translated by NIOHTTP2's codec): version 2,
    /// one request per stream.
    let isHTTP2Stream: Bool
    var state: State = .idle
    var context: ChannelHandlerContext?
    /// Parts that arrived while an earlier request was still being answered. Room for a head,
    /// a body part and an end (it grows for pipelined requests): the default of 16 slots
    /// kept about 0.5 KiB per idle connection.
    var inbound = CircularBuffer<HTTPServerRequestPart>(initialCapacity: 4)
    var pendingRead = false
    /// Forward mode's upstream bookkeeping (`idleUpstream`, `pendingUpstream`), made at the
    /// first forward request and kept for the connection: a tunnel's stream never needs it,
    /// and inline it cost every idle tunnel ~150 bytes.
    var forwardUpstreams: ForwardUpstreams?
    /// The decoder failed after the parts already queued: answered (400) once they are.
    var failedAfterQueue = false
    /// Origin mode: the stream as a whole, re-checked on policy changes (its host at all).
    var streamLive: LiveConnection?
    /// Origin mode: the tunnel's own line, kept until the client channel closes.
    var tunnelRecord: AuditRecord?
    /// Origin mode: whether this handler tracks the stream as a whole for policy changes
    /// (false when the terminated connection does, for all its HTTP/2 streams).
    var tracksStream = true
    /// The client closed its side (origin mode keeps half-closed tunnels): the connection
    /// ends once what it sent is answered.
    var clientClosed = false
    /// The client's address as the audit writes it (`newRecord`).
    var clientText: String?
    /// Forward mode: a CONNECT waiting for its request's end (boxed: a tunnel machine is
    /// ~1.7 KiB, which every handler would otherwise carry for its whole life).
    var pendingConnect: PendingConnect?
    /// The last decision's reason text, and how many requests were decided (`reasonText`).
    var reasonMemo: ReasonMemo?
    var decidedRequests = 0
    /// The HTTP handlers around this one (the decoder replaced when a CONNECT becomes a tunnel).
    var decoder: ByteToMessageHandler<HTTPRequestDecoder>?
    var encoder: HTTPResponseEncoder?

    init(env: ProxyEnvironment, mode: Mode, headGuard: HeadGuard?, isHTTP2Stream: Bool = false) {
        self.env = env
        self.mode = mode
        self.headGuard = headGuard
        self.isHTTP2Stream = isHTTP2Stream
    }

    /// The forward proxy's handlers on an accepted channel.
    static func installForward(on channel: any Channel, env: ProxyEnvironment) throws {
        try install(on: channel, env: env, mode: .forward, position: .last)
    }

    /// An HTTP stream to `origin` on a tunnel's client channel (after `context`'s handler),
    /// and the HTTP client codecs on its upstream.
    /// One HTTP/2 stream of a terminated connection (after NIOHTTP2's HTTP/1 codec): its
    /// request decided and forwarded like any other; the connection's line and its policy
    /// tracking belong to the connection (`TerminatedConnection`).
    static func installHTTP2Stream(on channel: any Channel, origin: Origin, env: ProxyEnvironment) throws {
        let handler = HTTPStreamHandler(env: env, mode: .origin(origin), headGuard: nil, isHTTP2Stream: true)
        handler.tracksStream = false
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    /// `tunnelRecord`: the tunnel's own line (CONNECT, SOCKS5), written when the client
    /// channel closes with the bytes of every request it carried.
    static func installFixed(on channel: any Channel, origin: Origin, env: ProxyEnvironment, tunnelRecord: AuditRecord?,
                             after context: ChannelHandlerContext) throws {
        let handler = try install(on: channel, env: env, mode: .origin(origin), position: .after(context.handler))
        handler.tunnelRecord = tunnelRecord
    }

    @discardableResult
    private static func install(on channel: any Channel, env: ProxyEnvironment, mode: Mode,
                                position: ChannelPipeline.SynchronousOperations.Position) throws -> HTTPStreamHandler {
        let settings = env.settings
        let headGuard = HeadGuard(limit: settings.maxHeadBytes, headTimeout: settings.headTimeout,
                                  idleTimeout: settings.idleTimeout, exchangeIdleTimeout: settings.tunnelIdleTimeout)
        let handler = HTTPStreamHandler(env: env, mode: mode, headGuard: headGuard)
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        let encoder = HTTPResponseEncoder()
        handler.decoder = decoder
        handler.encoder = encoder
        try channel.pipeline.syncOperations.addHandlers([headGuard, decoder, encoder, handler], position: position)
        return handler
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if case .origin(let origin) = mode, tracksStream { trackStream(origin, context) }
    }

    /// Also the safety net for the stream's live entry: a handler added to a channel that had
    /// already closed (the client leaving as the TLS handshake ends) never sees
    /// `channelInactive`, but is always removed when the pipeline is torn down.
    func handlerRemoved(context: ChannelHandlerContext) {
        if let streamLive {
            env.connections.untrack(streamLive)
            self.streamLive = nil
        }
        self.context = nil
    }

    /// Whether the upstream may read: while the client can take more (back-pressure), and
    /// always once the client is gone (so closing handshakes such as TLS close_notify finish).
    var clientWritable: Bool { context?.channel.isWritable ?? true }

    /// The client's address: the connection's (an HTTP/2 stream channel has none of its own).
    /// The channel's, which NIO keeps from accept: `context.remoteAddress` asks the kernel
    /// (getpeername) at every call, and a keep-alive stream asked three times per request.
    func clientAddress(_ context: ChannelHandlerContext) -> SocketAddress? {
        isHTTP2Stream ? context.channel.parent?.remoteAddress : context.channel.remoteAddress
    }

    /// A new audit record for this connection's client, whose address is formatted once per
    /// connection, not once per request.
    func newRecord(_ via: AuditVia, _ context: ChannelHandlerContext) -> AuditRecord {
        let text: String
        if let clientText {
            text = clientText
        } else {
            text = clientAddress(context).auditText
            clientText = text
        }
        return env.record(via, clientText: text)
    }

    var via: AuditVia {
        switch mode {
        case .forward: return .http
        case .origin(let origin): return origin.via
        }
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Note to maintainers: on close, the decoder (`.forwardBytes`) surfaces leftover raw
        // bytes as it is removed; after a CONNECT or once closed, nothing here may unwrap them.
        switch state {
        case .tunnelling where pendingConnect == nil: return
        case .closed, .behindTunnel: return
        case .idle, .discarding, .connecting, .forwarding, .tunnelling: break
        }
        inbound.append(unwrapInboundIn(data))
        pump(context)
    }

    /// Processes queued parts as far as the current state allows.
    func pump(_ context: ChannelHandlerContext) {
        while true {
            switch state {
            case .tunnelling:
                awaitConnectEnd(context)
                return
            case .behindTunnel:
                return
            case .closed:
                inbound.removeAll()
                return
            case .idle:
                guard let part = inbound.popFirst() else {
                    if failedAfterQueue {
                        failedAfterQueue = false
                        badRequest("malformed HTTP request", closeNow: true, context)
                    }
                    resumeReading(context)
                    return
                }
                guard case .head(let head) = part else { continue }  // a stray part after a finished request
                headGuard?.headReceived()
                start(head, context)
            case .discarding(let close):
                guard let part = inbound.popFirst() else {
                    resumeReading(context)
                    return
                }
                if case .end = part {
                    if close {
                        closeNow(context)
                        return
                    }
                    becomeIdle(context)
                }
            case .connecting(let exchange):
                guard !exchange.requestComplete, let part = inbound.popFirst() else { return }
                exchange.buffered.append(part)
                if case .end = part { exchange.requestComplete = true }
            case .forwarding(let exchange):
                guard !exchange.requestComplete else {
                    resumeReading(context)
                    return
                }
                guard exchange.upstreamChannel?.isWritable ?? true, let part = inbound.popFirst() else {
                    resumeReading(context)
                    return
                }
                forwardBody(part, exchange)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Body parts go upstream unflushed; a complete request was flushed by its end.
        if case .forwarding(let exchange) = state, !exchange.requestComplete { exchange.upstreamChannel?.flush() }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let channelEvent = event as? ChannelEvent, case .inputClosed = channelEvent {
            clientClosed = true
            if case .idle = state, inbound.isEmpty { closeNow(context) }
            return
        }
        guard let event = event as? HeadGuardEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch event {
        case .idleTimedOut:
            closeNow(context)
        case .tooLarge:
            refuseUnparsed(.headersTooLarge(limit: env.settings.maxHeadBytes), context)
        case .headTimedOut:
            refuseUnparsed(.requestTimeout(), context)
        case .exchangeIdleTimedOut:
            exchangeWentIdle(context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .forwarding(let exchange) = state { exchange.upstream?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Outbound reads: at most one read's worth is ever queued

    func read(context: ChannelHandlerContext) {
        if readAllowed {
            context.read()
        } else {
            pendingRead = true
        }
    }

    var readAllowed: Bool {
        guard inbound.isEmpty else { return false }
        switch state {
        // Closed: reads go on, so that a closing handshake below (TLS close_notify) completes.
        // Behind a tunnel: the tunnel in front bounds what it holds.
        case .idle, .discarding, .closed, .behindTunnel: return true
        case .connecting, .tunnelling: return false
        case .forwarding(let exchange):
            return exchange.requestComplete || (exchange.upstreamChannel?.isWritable ?? false)
        }
    }

    func resumeReading(_ context: ChannelHandlerContext) {
        if pendingRead, readAllowed {
            pendingRead = false
            context.read()
        }
    }

    func upstreamBecameWritable() {
        guard let context else { return }
        pump(context)
    }
}

/// A CONNECT's tunnel machine while the request's end is awaited (`pendingConnect`).
final class PendingConnect {
    let machine: TunnelMachine
    init(_ machine: TunnelMachine) { self.machine = machine }
}

/// Forward mode: the upstream kept for the next request to the same place, and the one just
/// dialled until `Egress` says it is the one (`HTTPStreamHandler.forwardUpstreams`).
final class ForwardUpstreams {
    var idle: HTTPStreamHandler.IdleUpstream?
    var pending: (any Channel)?
    /// What the last request had that the next one on the connection may reuse: its
    /// absolute-form authority as sent and parsed, its identity and its name-stage decision
    /// (the last two while no policy update happens: `authenticate`, `decide`).
    var authority: AuthorityMemo?
    var identity: HTTPStreamHandler.IdentityMemo?
    var decision: HTTPStreamHandler.DecisionMemo?
}

extension HTTPStreamHandler {
    /// Forward mode: the upstream kept alive after the last response, for the next request.
    var idleUpstream: IdleUpstream? {
        get { forwardUpstreams?.idle }
        set { upstreams(creating: newValue != nil)?.idle = newValue }
    }

    /// Forward mode: the upstream just dialled, until `Egress` says it is the one.
    var pendingUpstream: (any Channel)? {
        get { forwardUpstreams?.pending }
        set { upstreams(creating: newValue != nil)?.pending = newValue }
    }

    var authorityMemo: AuthorityMemo? {
        get { forwardUpstreams?.authority }
        set { upstreams(creating: newValue != nil)?.authority = newValue }
    }

    var identityMemo: IdentityMemo? {
        get { forwardUpstreams?.identity }
        set { upstreams(creating: newValue != nil)?.identity = newValue }
    }

    var decisionMemo: DecisionMemo? {
        get { forwardUpstreams?.decision }
        set { upstreams(creating: newValue != nil)?.decision = newValue }
    }

    private func upstreams(creating: Bool) -> ForwardUpstreams? {
        if let forwardUpstreams { return forwardUpstreams }
        guard creating else { return nil }
        let made = ForwardUpstreams()
        forwardUpstreams = made
        return made
    }
}
