import NIOCore
import NIOHTTP1
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

extension HTTPStreamHandler {
    // MARK: - Responses of the gateway's own

    /// A lookup, connect or upstream failure: 502 (504 when it timed out), then close.
    /// The exchange stops being current before its upstream is closed: that close calls back
    /// at once (`upstreamClosed`), which must not take it for a second failure to answer.
    func failed(_ exchange: Exchange, status: Int, message: String, _ context: ChannelHandlerContext) {
        state = .idle
        if case .forward = mode { exchange.upstreamChannel?.close(promise: nil) }
        exchange.record.fail(message)
        let response: ProxyResponse = status == 504 ? .gatewayTimeout(message) : .badGateway(message)
        refuse(response, exchange: exchange, close: true, context)
    }

    /// Answers a request with the gateway's own response and writes its entry (the record's
    /// outcome set by the caller); then drops the rest of the request and idles, or closes.
    func refuse(_ response: ProxyResponse, exchange: Exchange, close: Bool, _ context: ChannelHandlerContext) {
        // An HTTP/2 stream carries one request: it ends with its response, never cut short
        // (closing the stream channel would reset it before the response is out).
        let close = close && !isHTTP2Stream
        exchange.record.status = response.status
        if let live = exchange.live {
            env.connections.untrack(live)
            exchange.live = nil
        }
        finish(exchange)
        write(response, close: close, context)
        conclude(alreadyComplete: exchange.requestComplete, close: close, context)
    }

    /// As above, for a request refused before an exchange existed; `action` and `rejectedBy`
    /// are the data plane's own when given (else the record's decision stands).
    /// `closeNow`: the request's framing cannot be trusted, so where it ends is unknown: the
    /// connection closes at once instead of skipping the rest of it.
    func refuse(_ response: ProxyResponse, record: inout AuditRecord, _ action: AuditAction? = nil, _ rejectedBy: String? = nil,
                close: Bool, closeNow now: Bool = false, _ context: ChannelHandlerContext) {
        let (close, now) = isHTTP2Stream ? (false, false) : (close, now)
        if let action, let rejectedBy { record.refuse(action, rejectedBy, reason: response.body) }
        record.status = response.status
        env.finish(record)
        write(response, close: close || now, context)
        if now { return closeNow(context) }
        conclude(alreadyComplete: false, close: close, context)
    }

    /// 431, 408: the head never completed; answered and closed at once.
    func refuseUnparsed(_ response: ProxyResponse, _ context: ChannelHandlerContext) {
        var record = newRecord(via, context)
        if case .origin(let origin) = mode { origin.stamp(&record) }
        record.refuse(.error, AuditVocabulary.badRequest, reason: response.body)
        record.status = response.status
        env.finish(record)
        write(response, close: true, context)
        closeNow(context)
    }

    func badRequest(_ message: String, closeNow now: Bool, _ context: ChannelHandlerContext) {
        refuseUnparsed(.badRequest(message), context)
    }

    func write(_ response: ProxyResponse, close: Bool, _ context: ChannelHandlerContext) {
        let bytes = ByteBuffer(string: response.body + "\n")
        context.write(wrapOutboundOut(.head(response.head(close: close))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// After the gateway's own response: wait for the rest of the request (dropped), then
    /// idle or close; or close at once when the request is already complete and must close.
    func conclude(alreadyComplete: Bool, close: Bool, _ context: ChannelHandlerContext) {
        if alreadyComplete {
            if close { return closeNow(context) }
            return becomeIdle(context)
        }
        state = .discarding(close: close)
        pump(context)
    }

}
