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
    /// framed exactly as it was decoded. A request that carries credentials gets their values
    /// in place (the gate named them by position: the list is built here once), its query
    /// with the secret, and `Accept-Encoding: identity`.
    /// `keepTrailersTE`: the request came over HTTP/2, where `TE: trailers` is the one
    /// transfer field allowed and gRPC servers require it.
    static func upstreamHead(_ exchange: Exchange, keepTrailersTE: Bool = false) -> HTTPRequestHead {
        let request = exchange.request
        let injected = exchange.injected
        let listed = exchange.headers.connectionListed()
        var headers = HTTPHeaders()
        headers.reserveCapacity(exchange.headers.count + 3)
        for (index, (name, value)) in exchange.headers.enumerated() {
            let lower = name.lowercased()
            if HTTPHeaders.isHopByHop(lowercased: lower, listed: listed) { continue }
            switch lower {
            case "host", "content-length", "transfer-encoding", "expect", "http2-settings": continue
            // A response that may echo the secret must be readable to be scrubbed (set below).
            case "accept-encoding" where injected != nil: continue
            default: headers.add(name: name, value: injected?.values.value(at: index) ?? value)
            }
        }
        headers.add(name: "Host", value: hostHeader(exchange.target, defaultPort: exchange.record.terminated ? 443 : 80))
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
        if let injected {
            uri = request.path + (injected.query.map { "?" + $0 } ?? "")
            headers.add(name: "Accept-Encoding", value: "identity")
        }
        return HTTPRequestHead(version: .http1_1, method: request.method, uri: uri, headers: headers)
    }

    /// The `Host` sent upstream: the decided host, with its port unless it is the scheme's
    /// default (80, or 443 inside terminated TLS).
    static func hostHeader(_ target: Target, defaultPort: UInt16 = 80) -> String {
        let host: String
        switch target.host {
        case .name(let n): host = n.text
        case .address(.v4(let a)): host = a.description
        case .address(.v6(let a)): host = "[\(a)]"
        }
        return target.port == defaultPort || target.port == nil ? host : "\(host):\(target.port!)"
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
            // No promise, as for a body part: the end writes the last chunk of a chunked body and
            // nothing otherwise (a promise would cost an empty write per request), so it fails
            // only with the socket, which then closes — and the close is what ends the exchange
            // (`upstreamClosed`). The head's write keeps its promise (`sendHeadAndBuffered`).
            // A request without a body wrote nothing since its head, which went out flushed.
            exchange.requestComplete = true
            exchange.upstream?.send(.end(nil), flush: exchange.request.framing != .none || exchange.record.bytesUp > 0)
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
            exchange.upstreamKeepAlive = head.isKeepAlive
            exchange.record.status = Int(head.status.code)
            if exchange.scrubber != nil, let encoding = Self.unscrubbableEncoding(head, request: exchange.request.method) {
                return refuseEncodedResponse(exchange, encoding: encoding, context)
            }
            var headers = head.headers.removingHopByHop()
            let hold = exchange.scrubber != nil && scrubResponseHead(&headers, of: head, exchange)
            if !exchange.keepAlive || (!head.isKeepAlive && isOriginMode) { headers.add(name: "Connection", value: "close") }
            if isHTTP2Stream { exchange.statusTrailers = Self.takeGRPCStatus(from: &headers) }
            let out = HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)
            if hold {
                exchange.heldResponse = (out, nil)
                return
            }
            exchange.responseStarted = true
            context.write(wrapOutboundOut(.head(out)), promise: nil)
        case .body(let bytes):
            exchange.record.bytesDown += Int64(bytes.readableBytes)
            if exchange.heldResponse != nil { return holdResponseBody(bytes, exchange, context) }
            let out = exchange.scrubber == nil ? bytes : exchange.scrubber!.scrub(bytes)
            if out.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(out))), promise: nil) }
        case .end(let trailers):
            var trailers = trailers?.removingHopByHop()
            if exchange.heldResponse != nil { sendHeldResponse(exchange, context) }
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
            if let status = exchange.statusTrailers {
                var merged = trailers ?? HTTPHeaders()
                for (name, value) in status where !merged.contains(name: name) { merged.add(name: name, value: value) }
                trailers = merged
            }
            finishExchange(exchange, end: .end(trailers), context)
        }
    }

    /// A gRPC "trailers-only" response (one HEADERS frame ending the stream, `grpc-status`
    /// in it) reaches this handler as a head and an end without trailers, and would leave as
    /// HEADERS then an empty DATA frame ending the stream: the client would see no status
    /// ("stream removed"). Its status fields are moved from the head to the trailers, the
    /// equivalent form gRPC defines (headers, then trailers with the status).
    static func takeGRPCStatus(from headers: inout HTTPHeaders) -> HTTPHeaders? {
        guard headers.contains(name: "grpc-status") else { return nil }
        var status = HTTPHeaders()
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            for value in headers[name] { status.add(name: name, value: value) }
            headers.remove(name: name)
        }
        return status
    }

    var isOriginMode: Bool {
        if case .origin = mode { return true }
        return false
    }

    /// The response's parts read so far go out together. Once the response ended, its `end`
    /// was written and flushed (`finishExchange`): nothing is left to flush.
    func upstreamReadComplete() {
        if case .forwarding = state { context?.flush() }
    }

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

    /// The response ended: the entry is written, the upstream kept or closed, the response's
    /// `end` written to the client, and the next request (if any) started.
    ///
    /// The exchange is over before `end` is written: on an HTTP/2 stream that write closes
    /// the stream channel at once (both sides have ended), and that close is the stream's
    /// normal end — not a client leaving mid-response, and no reason to close the upstream
    /// (an HTTP/1.1 connection the pool keeps for the next stream).
    func finishExchange(_ exchange: Exchange, end: HTTPServerResponsePart, _ context: ChannelHandlerContext) {
        finish(exchange)
        state = .idle
        var close = !exchange.keepAlive || !exchange.requestComplete
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
                close = true
            }
        }
        context.writeAndFlush(wrapOutboundOut(end), promise: nil)
        if close { return closeNow(context) }
        // The write may have closed the channel (an HTTP/2 stream): nothing follows then.
        guard case .idle = state else { return }
        becomeIdle(context)
    }

    /// Forward mode: keeps the upstream for the next request to the same place; a policy
    /// change that rejects it closes the client connection, and says so in the log.
    private func keepIdle(_ exchange: Exchange, channel: any Channel, handler: UpstreamHTTPHandler, address: IPAddress,
                          _ context: ChannelHandlerContext) {
        let clientChannel = context.channel
        let env = self.env
        let target = Target(host: exchange.target.host, port: exchange.target.port, transport: .tcp, request: .notApplicable)
        var line = newRecord(.http, context)
        line.identify(exchange.sandbox)
        line.ask(target)
        line.address = exchange.record.address ?? address.description  // the same address, already formatted
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
        if case .decided(let decision) = exchange.record.outcome { exchange.record.decidedReason = reasonText(decision) }
        env.finish(exchange.record)
    }

    /// The reason text of a decision this stream's previous entry had too (a keep-alive
    /// stream's requests to one host: the same rule, host and policy version), instead of
    /// building the sentence again per request. Kept from the second decided request on, so
    /// that a stream of one request (most tunnels) keeps nothing; nil: build it.
    func reasonText(_ decision: Decision) -> String? {
        if let memo = reasonMemo, memo.decision == decision { return memo.text }
        decidedRequests += 1
        guard decidedRequests > 1 else { return nil }
        let text = decision.reason
        reasonMemo = ReasonMemo(decision: decision, text: text)
        return text
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
}
