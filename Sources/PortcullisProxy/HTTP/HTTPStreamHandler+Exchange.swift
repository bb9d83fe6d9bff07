import NIOCore
import NIOHTTP1
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

extension HTTPStreamHandler {
    /// The upstream is ready: the request head goes out, rebuilt by the gateway.
    func connected(_ exchange: Exchange, channel: any Channel, handler upstream: UpstreamHTTPHandler, address: IPAddress,
                   decision: Decision, _ context: ChannelHandlerContext) {
        // The body that has already arrived is checked for placeholders before anything goes
        // out (a later chunk with one cuts the request off instead).
        if arrivedBodyCarriesPlaceholder(exchange) {
            if case .forward = mode { channel.close(promise: nil) } else if case .origin(let origin) = mode {
                _ = origin.upstream.release(upstream, reusable: true)
            }
            return refuseCredential(exchange, AuditVocabulary.credentialMisuse, "a placeholder in the request body", context)
        }
        exchange.record.decide(decision, on: exchange.target)
        exchange.record.address = address.description
        exchange.upstream = upstream
        exchange.upstreamChannel = channel
        exchange.address = address
        upstream.owner = self
        let clientLoop = context.eventLoop
        let bound = NIOLoopBound((self, exchange), eventLoop: clientLoop)
        let live = LiveConnection(sandboxID: exchange.sandbox.sandboxID, target: exchange.target, address: address,
                                  isTunnel: false, decidedUnder: exchange.sandbox.policy.version) { now in
            clientLoop.execute {
                let (handler, exchange) = bound.value
                guard let context = handler.context, case .forwarding(let current) = handler.state, current === exchange else {
                    return
                }
                exchange.record.closeCause = .policyChanged(now)
                handler.closeNow(context)
            }
        }
        exchange.live = live
        env.connections.track(live)
        state = .forwarding(exchange)

        // A small body is held until it is whole and checked for placeholders before the head
        // goes out, so a misuse sends nothing upstream (a larger one is streamed and cut off).
        if case .length(let n) = exchange.request.framing, n <= Self.maxHeldBody, !exchange.requestComplete {
            exchange.holding = true
            pump(context)
            return
        }
        sendHeadAndBuffered(exchange, channel: channel)
        pump(context)
    }

    /// Bodies up to this size are held whole before the request goes upstream.
    static let maxHeldBody = 64 * 1024

    /// Sends the rebuilt head, then the body parts buffered so far.
    func sendHeadAndBuffered(_ exchange: Exchange, channel: any Channel) {
        guard let upstream = exchange.upstream else { return }
        upstream.send(.head(Self.upstreamHead(exchange, keepTrailersTE: isHTTP2Stream)), flush: false) { [weak self] in
            self?.upstreamWriteFailed(exchange, $0)
        }
        let buffered = exchange.buffered
        exchange.buffered = []
        let wasComplete = exchange.requestComplete
        exchange.requestComplete = false
        for part in buffered { forwardBody(part, exchange) }
        if wasComplete && !exchange.requestComplete { exchange.requestComplete = true }
        channel.flush()
    }

    /// The held body is whole: checked, then sent with its head (or refused, nothing sent).
    func releaseHeld(_ exchange: Exchange) {
        guard let context, let channel = exchange.upstreamChannel else { return }
        exchange.holding = false
        if arrivedBodyCarriesPlaceholder(exchange) {
            if case .forward = mode { channel.close(promise: nil) } else if case .origin(let origin) = mode,
                                                                              let upstream = exchange.upstream {
                _ = origin.upstream.release(upstream, reusable: true)
            }
            exchange.upstream = nil
            exchange.upstreamChannel = nil
            if let live = exchange.live {
                env.connections.untrack(live)
                exchange.live = nil
            }
            return refuseCredential(exchange, AuditVocabulary.credentialMisuse, "a placeholder in the request body", context)
        }
        sendHeadAndBuffered(exchange, channel: channel)
    }

    /// The head the upstream receives: the method, the canonical path with the query
    /// unchanged, HTTP/1.1, the client's end-to-end fields (hop-by-hop and `Proxy-*` ones
    /// dropped, and those `Connection` names), `Host` set to the decided host, and the body
    /// framed exactly as it was decoded.
    /// `keepTrailersTE`: the request came over HTTP/2, where `TE: trailers` is the one
    /// transfer field allowed and gRPC servers require it.
    static func upstreamHead(_ exchange: Exchange, keepTrailersTE: Bool = false) -> HTTPRequestHead {
        let request = exchange.request
        var headers = HTTPHeaders()
        for (name, value) in (exchange.injected?.headers ?? exchange.headers).removingHopByHop() {
            switch name.lowercased() {
            case "host", "content-length", "transfer-encoding", "expect", "http2-settings": continue
            default: headers.add(name: name, value: value)
            }
        }
        headers.replaceOrAdd(name: "Host", value: hostHeader(exchange.target))
        if keepTrailersTE,
           exchange.headers["te"].contains(where: { Substring($0).trimmingCharacters().lowercased() == "trailers" }) {
            headers.add(name: "TE", value: "trailers")
        }
        switch request.framing {
        case .none: break
        case .length(let n): headers.add(name: "Content-Length", value: String(n))
        case .chunked: headers.add(name: "Transfer-Encoding", value: "chunked")
        }
        var uri = request.originForm
        if let injected = exchange.injected {
            uri = request.path + (injected.query.map { "?" + $0 } ?? "")
            // A response that may echo the secret must be readable to be scrubbed.
            headers.replaceOrAdd(name: "Accept-Encoding", value: "identity")
        }
        return HTTPRequestHead(version: .http1_1, method: request.method, uri: uri, headers: headers)
    }

    static func hostHeader(_ target: Target) -> String {
        let host: String
        switch target.host {
        case .name(let n): host = n.text
        case .address(.v4(let a)): host = a.description
        case .address(.v6(let a)): host = "[\(a)]"
        }
        return target.port == 80 || target.port == nil ? host : "\(host):\(target.port!)"
    }

    func forwardBody(_ part: HTTPServerRequestPart, _ exchange: Exchange) {
        if exchange.holding {
            exchange.buffered.append(part)
            if case .end = part {
                exchange.requestComplete = true
                releaseHeld(exchange)
            }
            return
        }
        switch part {
        case .head:
            return
        case .body(let bytes):
            exchange.record.bytesUp += Int64(bytes.readableBytes)
            if bodyCarriesPlaceholder(exchange, bytes) {
                return credentialInBody(exchange)
            }
            exchange.upstream?.send(.body(.byteBuffer(bytes)), flush: false)
        case .end:
            // Trailers are not forwarded on HTTP/1.1 (no request trailer field is one we decided).
            exchange.requestComplete = true
            exchange.upstream?.send(.end(nil), flush: true) { [weak self] in self?.upstreamWriteFailed(exchange, $0) }
        }
    }

    /// A write to the upstream failed: the request cannot be completed as decided.
    func upstreamWriteFailed(_ exchange: Exchange, _ error: any Error) {
        guard let context, case .forwarding(let current) = state, current === exchange else { return }
        exchange.record.closeCause = .cut("writing to the upstream failed: \(error)")
        if exchange.responseStarted {
            closeNow(context)
        } else {
            failed(exchange, status: 502, message: "writing the request to the upstream failed", context)
        }
    }

    // MARK: - Upstream events

    func upstreamRead(_ part: HTTPClientResponsePart, from upstream: UpstreamHTTPHandler) {
        guard let context, case .forwarding(let exchange) = state, exchange.upstream === upstream else { return }
        switch part {
        case .head(let head):
            exchange.responseStarted = true
            exchange.upstreamKeepAlive = head.isKeepAlive
            exchange.record.status = Int(head.status.code)
            var headers = head.headers.removingHopByHop()
            if exchange.scrubber != nil {
                var scrubbed = HTTPHeaders()
                for (name, value) in headers { scrubbed.add(name: name, value: exchange.scrubber!.scrub(text: value)) }
                headers = scrubbed
            }
            if !exchange.keepAlive || (!head.isKeepAlive && isOriginMode) { headers.add(name: "Connection", value: "close") }
            let out = HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)
            context.write(wrapOutboundOut(.head(out)), promise: nil)
        case .body(let bytes):
            exchange.record.bytesDown += Int64(bytes.readableBytes)
            let out = exchange.scrubber == nil ? bytes : exchange.scrubber!.scrub(bytes)
            if out.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(out))), promise: nil) }
        case .end(let trailers):
            var trailers = trailers?.removingHopByHop()
            if exchange.scrubber != nil {
                let rest = exchange.scrubber!.finish()
                if rest.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(rest))), promise: nil) }
                if let t = trailers {
                    var scrubbed = HTTPHeaders()
                    for (name, value) in t { scrubbed.add(name: name, value: exchange.scrubber!.scrub(text: value)) }
                    trailers = scrubbed
                }
                recordReflection(exchange)
            }
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            finishExchange(exchange, context)
        }
    }

    var isOriginMode: Bool {
        if case .origin = mode { return true }
        return false
    }

    func upstreamReadComplete() { context?.flush() }

    func upstreamClosed(_ upstream: UpstreamHTTPHandler) {
        if let idle = idleUpstream, idle.handler === upstream {
            env.connections.untrack(idle.live)
            idleUpstream = nil
            return
        }
        guard let context else { return }
        guard case .forwarding(let exchange) = state, exchange.upstream === upstream else {
            // Origin mode: when the source says its upstream was the stream's only one, the
            // stream ends (once idle).
            if case .origin(let origin) = mode, origin.upstream.closed(upstream), case .idle = state { closeNow(context) }
            return
        }
        if exchange.responseStarted {
            // Cut mid-response: the client cannot be told otherwise.
            exchange.record.closeCause = .cut("the upstream closed mid-response")
            finish(exchange)
            closeNow(context)
        } else {
            failed(exchange, status: 502, message: "the upstream closed without a response", context)
        }
    }

    /// The response ended: the entry is written, the upstream kept or closed, the next
    /// request (if any) started.
    func finishExchange(_ exchange: Exchange, _ context: ChannelHandlerContext) {
        finish(exchange)
        switch mode {
        case .forward:
            if exchange.upstreamKeepAlive, exchange.requestComplete, let channel = exchange.upstreamChannel,
               let handler = exchange.upstream, let address = exchange.address, channel.isActive {
                keepIdle(exchange, channel: channel, handler: handler, address: address, context)
            } else {
                exchange.upstreamChannel?.close(promise: nil)
            }
        case .origin(let origin):
            if let upstream = exchange.upstream,
               origin.upstream.release(upstream, reusable: exchange.upstreamKeepAlive && exchange.requestComplete) {
                return closeNow(context)
            }
        }
        if !exchange.keepAlive || !exchange.requestComplete { return closeNow(context) }
        becomeIdle(context)
    }

    /// Forward mode: keeps the upstream for the next request to the same place; a policy
    /// change that rejects it closes the client connection, and says so in the log.
    private func keepIdle(_ exchange: Exchange, channel: any Channel, handler: UpstreamHTTPHandler, address: IPAddress,
                          _ context: ChannelHandlerContext) {
        let clientChannel = context.channel
        let env = self.env
        let target = Target(host: exchange.target.host, port: exchange.target.port, transport: .tcp, request: .notApplicable)
        var line = env.record(.http, client: clientAddress(context))
        line.identify(exchange.sandbox)
        line.ask(target)
        line.address = address.description
        if let decision = exchange.record.decision { line.outcome = .decided(decision) }
        let sendable = NIOLoopBound(line, eventLoop: context.eventLoop)
        let live = LiveConnection(sandboxID: exchange.sandbox.sandboxID, target: target, address: address, isTunnel: false,
                                  decidedUnder: exchange.sandbox.policy.version) { now in
            clientChannel.eventLoop.execute {
                var line = sendable.value
                line.closeCause = .policyChanged(now)
                env.finish(line)
                clientChannel.close(promise: nil)
            }
        }
        env.connections.track(live)
        idleUpstream = IdleUpstream(sandboxID: exchange.sandbox.sandboxID, host: exchange.target.host,
                                    port: exchange.target.port ?? 80, address: address, channel: channel, handler: handler,
                                    live: live)
    }

    /// Writes the exchange's entry once and releases what it held.
    func finish(_ exchange: Exchange) {
        if let live = exchange.live {
            env.connections.untrack(live)
            exchange.live = nil
        }
        releaseSlot(exchange)
        guard !exchange.finished else { return }
        exchange.finished = true
        tunnelRecord?.bytesDown += exchange.record.bytesDown
        env.finish(exchange.record)
    }

    func releaseSlot(_ exchange: Exchange) {
        if exchange.counted {
            exchange.counted = false
            env.connections.closeConnection(sandboxID: exchange.sandbox.sandboxID)
        }
    }

    func dropIdleUpstream() {
        if let idle = idleUpstream {
            env.connections.untrack(idle.live)
            idle.channel.close(promise: nil)
            idleUpstream = nil
        }
    }

    func becomeIdle(_ context: ChannelHandlerContext) {
        state = .idle
        if clientClosed, inbound.isEmpty { return closeNow(context) }
        headGuard?.awaitHead()
        pump(context)
    }

    // MARK: - Responses of the gateway's own

    /// A lookup, connect or upstream failure: 502 (504 when it timed out), then close.
    func failed(_ exchange: Exchange, status: Int, message: String, _ context: ChannelHandlerContext) {
        if case .forward = mode { exchange.upstreamChannel?.close(promise: nil) }
        exchange.record.fail(message)
        let response: ProxyResponse = status == 504 ? .gatewayTimeout(message) : .badGateway(message)
        state = .idle
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
        var record = env.record(via, client: clientAddress(context))
        if case .origin(let origin) = mode {
            record.identify(origin.sandbox)
            record.host = origin.host.description
            record.terminated = origin.terminated
        }
        record.refuse(.error, AuditVocabulary.badRequest, reason: response.body)
        record.status = response.status
        env.finish(record)
        write(response, close: true, context)
        closeNow(context)
    }

    func badRequest(_ message: String, closeNow now: Bool, _ context: ChannelHandlerContext) {
        refuseUnparsed(.badRequest(message), context)
    }

    private func write(_ response: ProxyResponse, close: Bool, _ context: ChannelHandlerContext) {
        let bytes = ByteBuffer(string: response.body + "\n")
        context.write(wrapOutboundOut(.head(response.head(close: close))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// After the gateway's own response: wait for the rest of the request (dropped), then
    /// idle or close; or close at once when the request is already complete and must close.
    private func conclude(alreadyComplete: Bool, close: Bool, _ context: ChannelHandlerContext) {
        if alreadyComplete {
            if close { return closeNow(context) }
            return becomeIdle(context)
        }
        state = .discarding(close: close)
        pump(context)
    }

    // MARK: - Credentials in bodies and responses

    /// Whether the body parts already here (buffered while connecting, or queued) hold a
    /// placeholder.
    func arrivedBodyCarriesPlaceholder(_ exchange: Exchange) -> Bool {
        var window: [UInt8] = []
        func scan(_ part: HTTPServerRequestPart) -> Bool? {
            switch part {
            case .head: return nil
            case .body(let bytes): window.append(contentsOf: bytes.readableBytesView)
            case .end: return false
            }
            return window.count >= Placeholders.length && !Placeholders.find(in: window).isEmpty ? true : false
        }
        for part in exchange.buffered { if scan(part) == true { return true } }
        if !exchange.requestComplete {
            for part in inbound {
                guard let found = scan(part) else { break }
                if found { return true }
                if case .end = part { break }
            }
        }
        return !Placeholders.find(in: window).isEmpty
    }

    /// Whether this body chunk (with the end of the previous one) holds a placeholder.
    func bodyCarriesPlaceholder(_ exchange: Exchange, _ bytes: ByteBuffer) -> Bool {
        var window = exchange.bodyTail
        window.append(contentsOf: bytes.readableBytesView)
        if !Placeholders.find(in: window).isEmpty { return true }
        exchange.bodyTail = Array(window.suffix(Placeholders.length - 1))
        return false
    }

    /// A placeholder in a request body: the request is refused; what was already written
    /// upstream is cut off (the upstream connection closes, so it never sees a whole request).
    func credentialInBody(_ exchange: Exchange) {
        guard let context else { return }
        exchange.upstreamChannel?.close(promise: nil)
        exchange.record.refuse(.reject, AuditVocabulary.credentialMisuse, reason: "a placeholder in the request body")
        if exchange.responseStarted { return closeNow(context) }
        let response = ProxyResponse.refused(host: exchange.target.host.description, port: exchange.target.port,
                                             rejectedBy: AuditVocabulary.credentialMisuse, reason: "a placeholder in the request body")
        exchange.record.status = response.status
        finish(exchange)
        state = .closed
        context.write(wrapOutboundOut(.head(response.head(close: true))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body + "\n")))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    /// A response that carried an injected secret gets its own `warn` line (the secret was
    /// replaced by its placeholder before the sandbox saw it).
    func recordReflection(_ exchange: Exchange) {
        guard let names = exchange.scrubber?.reflected, !names.isEmpty else { return }
        var line = exchange.record
        line.refuse(.warn, AuditVocabulary.credentialReflected,
                    reason: "the response carried the secret of credential \(names.sorted().joined(separator: ", ")); "
                        + "the sandbox saw the placeholder instead")
        env.finish(line)
    }
}
