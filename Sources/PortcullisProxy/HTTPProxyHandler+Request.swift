import NIOCore
import NIOHTTP1
import PortcullisModel
import PortcullisPolicy
import PortcullisWire

extension HTTPProxyHandler {
    /// Identity from `Proxy-Authorization: Basic` or, without one, the source address.
    /// A header that is present but unusable never falls back to the source address.
    func authenticate(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> SandboxContext? {
        let values = head.headers["proxy-authorization"]
        if values.isEmpty { return gate.authenticate(nil, source: context.remoteAddress) }
        guard values.count == 1, let credential = ProxyCredential.parseBasic(values[0]) else { return nil }
        return gate.authenticate(credential, source: context.remoteAddress)
    }

    func start(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let via = head.method == .CONNECT ? AuditVocabulary.viaConnect : AuditVocabulary.viaHTTP
        let record = AttemptRecord(gate: gate, client: context.remoteAddress.auditText, via: via)
        let headSize = head.uri.utf8.count + head.method.rawValue.utf8.count + 12 + head.headers.wireSize
        if headSize > gate.settings.maxHeadBytes {
            respond(.headersTooLarge(limit: gate.settings.maxHeadBytes), record: record,
                    rejectedBy: ProxyVocabulary.badRequest, action: "error", close: true, context: context)
            return
        }
        if head.method == .CONNECT {
            startConnect(head, record: record, context: context)
            return
        }
        let uri: AbsoluteTarget
        do { uri = try AbsoluteTarget.parse(head.uri) } catch {
            record.event.host = Escape.escaped(head.uri, limit: 200)
            respond(.badRequest(error.message), record: record, rejectedBy: ProxyVocabulary.badRequest, action: "error",
                    close: !head.isKeepAlive, context: context)
            return
        }
        record.event.host = uri.host.description
        record.event.port = Int(uri.port)
        record.event.method = head.method.rawValue
        record.event.path = AuditEvent.loggablePath(uri.path)
        guard let sandbox = authenticate(head, context: context) else {
            respond(.proxyAuthenticationRequired(), record: record, rejectedBy: ProxyVocabulary.unauthenticated,
                    action: "reject", close: true, context: context)
            return
        }
        let target = Target(host: uri.host, port: uri.port, transport: .tcp,
                            request: .visible(RequestLine(method: head.method.rawValue, path: uri.path)))
        let hosts = head.headers["host"]
        if hosts.count > 1 {
            record.event.sandboxID = sandbox.sandboxID
            record.event.tenantID = sandbox.tenantID
            respond(.badRequest("several Host headers"), record: record, rejectedBy: ProxyVocabulary.badRequest,
                    action: "error", close: true, context: context)
            return
        }
        if let hostHeader = hosts.first {
            let parsed = try? Authority.parse(Substring(hostHeader))
            if parsed?.host != uri.host || (parsed?.port ?? 80) != uri.port {
                let decision = sandbox.policy.reject(.hostMismatch(other: hostHeader), for: target)
                reject(decision, target: target, sandbox: sandbox, record: record, keepAlive: head.isKeepAlive,
                       context: context)
                return
            }
        }
        guard gate.openConnection(sandboxID: sandbox.sandboxID) else {
            tooMany(record: record, sandbox: sandbox, target: target, context: context)
            return
        }
        record.countedSandbox = sandbox.sandboxID
        let exchange = Exchange(head: head, record: record, target: target, sandbox: sandbox, keepAlive: head.isKeepAlive)
        state = .connecting(exchange)

        // Reuse the kept upstream when it goes to the same place and its address still passes.
        if let idle = idleUpstream, idle.sandboxID == sandbox.sandboxID, idle.host == uri.host, idle.port == uri.port,
           idle.channel.isActive {
            let nameDecision = sandbox.policy.decide(target)
            let decision = sandbox.policy.check(nameDecision, dialling: idle.address, for: target)
            idleUpstream = nil
            gate.untrack(idle.live)
            if decision.verdict.permits {
                connected(exchange, channel: idle.channel, handler: idle.handler, address: idle.address,
                          decision: decision, context: context)
                return
            }
            idle.channel.close(promise: nil)
        } else {
            dropIdleUpstream()
        }
        let bound = NIOLoopBound((self, context, exchange), eventLoop: context.eventLoop)
        EgressPlan.run(target: target, sandbox: sandbox, gate: gate, on: context.eventLoop).whenComplete { result in
            let (handler, context, exchange) = bound.value
            guard case .connecting(let current) = handler.state, current === exchange else {
                if case .success(.connected(let channel, _, _)) = result { channel.close(promise: nil) }
                return
            }
            switch result {
            case .failure(let error):
                handler.failed(exchange, status: 502, message: "\(error)", context: context)
            case .success(let outcome):
                handler.handle(outcome, exchange, context: context)
            }
        }
    }

    func handle(_ outcome: EgressOutcome, _ exchange: Exchange, context: ChannelHandlerContext) {
        switch outcome {
        case .rejected(let decision):
            exchange.record.countedSandbox.map { gate.closeConnection(sandboxID: $0) }
            exchange.record.countedSandbox = nil
            state = .idle
            reject(decision, target: exchange.target, sandbox: exchange.sandbox, record: exchange.record,
                   keepAlive: exchange.keepAlive, context: context, alreadyComplete: exchange.requestComplete)
        case .resolveFailed(let error, let decision):
            exchange.record.apply(decision, target: exchange.target, sandbox: exchange.sandbox)
            failed(exchange, status: error.timedOut ? 504 : 502, message: "lookup failed: \(error.message)", context: context)
        case .dialFailed(let error, let decision, let address):
            exchange.record.apply(decision, target: exchange.target, sandbox: exchange.sandbox)
            exchange.record.event.address = address?.description
            failed(exchange, status: error.timedOut ? 504 : 502, message: "upstream connect failed: \(error.message)",
                   context: context)
        case .connected(let channel, let address, let decision):
            let upstream = UpstreamHTTPHandler()
            do {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(upstream)
            } catch {
                channel.close(promise: nil)
                failed(exchange, status: 502, message: "upstream setup failed", context: context)
                return
            }
            channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in channel.close(promise: nil) }
            connected(exchange, channel: channel, handler: upstream, address: address, decision: decision, context: context)
        }
    }

    func connected(_ exchange: Exchange, channel: any Channel, handler upstream: UpstreamHTTPHandler, address: IPAddress,
                   decision: Decision, context: ChannelHandlerContext) {
        exchange.record.event.address = address.description
        exchange.record.apply(decision, target: exchange.target, sandbox: exchange.sandbox)  // keeps the address
        exchange.upstream = upstream
        exchange.upstreamChannel = channel
        exchange.upstreamAddress = address
        upstream.owner = self
        let clientChannel = context.channel
        let live = LiveConnection(sandboxID: exchange.sandbox.sandboxID, target: exchange.target, address: address,
                                  isTunnel: false, decidedUnder: exchange.sandbox.policy.version) { decision in
            clientChannel.eventLoop.execute { clientChannel.close(promise: nil) }
            _ = decision
        }
        exchange.record.live = live
        gate.track(live)
        state = .forwarding(exchange)

        var headers = exchange.head.headers.removingHopByHop()
        if headers["host"].isEmpty { headers.add(name: "Host", value: Self.hostHeader(exchange.target)) }
        let uri = (try? AbsoluteTarget.parse(exchange.head.uri))?.originForm ?? "/"
        let head = HTTPRequestHead(version: .http1_1, method: exchange.head.method, uri: uri, headers: headers)
        upstream.send(.head(head), flush: false)
        let buffered = exchange.buffered
        exchange.buffered = []
        exchange.requestComplete = false
        for part in buffered { forwardBody(part, exchange) }
        channel.flush()
        resumeReading(context: context)
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

    // MARK: - Upstream events

    func upstreamRead(_ part: HTTPClientResponsePart, from upstream: UpstreamHTTPHandler) {
        guard let context, case .forwarding(let exchange) = state, exchange.upstream === upstream else { return }
        switch part {
        case .head(let head):
            exchange.responseStarted = true
            exchange.upstreamKeepAlive = head.isKeepAlive
            exchange.record.event.status = Int(head.status.code)
            var headers = head.headers.removingHopByHop()
            if !exchange.keepAlive { headers.add(name: "Connection", value: "close") }
            let out = HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)
            context.write(wrapOutboundOut(.head(out)), promise: nil)
        case .body(let bytes):
            exchange.record.event.bytesDown += Int64(bytes.readableBytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        case .end(let trailers):
            context.writeAndFlush(wrapOutboundOut(.end(trailers?.removingHopByHop())), promise: nil)
            finishExchange(exchange, context: context)
        }
    }

    func upstreamReadComplete() { context?.flush() }

    func upstreamClosed(_ upstream: UpstreamHTTPHandler) {
        if let idle = idleUpstream, idle.handler === upstream {
            gate.untrack(idle.live)
            idleUpstream = nil
            return
        }
        guard let context, case .forwarding(let exchange) = state, exchange.upstream === upstream else { return }
        if exchange.responseStarted {
            // Cut mid-response: the client cannot be told otherwise.
            exchange.record.finish()
            state = .closed
            context.close(promise: nil)
        } else {
            failed(exchange, status: 502, message: "the upstream closed without a response", context: context)
        }
    }

    func finishExchange(_ exchange: Exchange, context: ChannelHandlerContext) {
        exchange.record.finish()
        if exchange.upstreamKeepAlive, exchange.requestComplete, let channel = exchange.upstreamChannel,
           let handler = exchange.upstream, let address = exchange.upstreamAddress, channel.isActive {
            let clientChannel = context.channel
            let live = LiveConnection(sandboxID: exchange.sandbox.sandboxID, target: exchange.target, address: address,
                                      isTunnel: false, decidedUnder: exchange.sandbox.policy.version) { _ in
                clientChannel.eventLoop.execute { clientChannel.close(promise: nil) }
            }
            gate.track(live)
            idleUpstream = IdleUpstream(sandboxID: exchange.sandbox.sandboxID, host: exchange.target.host,
                                        port: exchange.target.port ?? 80, address: address, channel: channel,
                                        handler: handler, live: live)
        } else {
            exchange.upstreamChannel?.close(promise: nil)
        }
        if !exchange.keepAlive || !exchange.requestComplete {
            state = .closed
            context.close(promise: nil)
            return
        }
        becomeIdle(context: context)
    }

    func dropIdleUpstream() {
        if let idle = idleUpstream {
            gate.untrack(idle.live)
            idle.channel.close(promise: nil)
            idleUpstream = nil
        }
    }

    func becomeIdle(context: ChannelHandlerContext) {
        state = .idle
        headGuard.awaitHead()
        while case .idle = state, let part = queued.popFirst() {
            if case .head = part {
                handle(part, context: context)
            }
        }
        resumeReading(context: context)
    }

    // MARK: - Responses of the gateway's own

    func reject(_ decision: Decision, target: Target, sandbox: SandboxContext, record: AttemptRecord, keepAlive: Bool,
                context: ChannelHandlerContext, alreadyComplete: Bool = false) {
        record.apply(decision, target: target, sandbox: sandbox)
        let response = ProxyResponse.forbidden(
            host: decision.host.description, port: target.port, rejectedBy: decision.rejectedBy ?? "rejected",
            ruleID: decision.ruleID, reason: decision.reason, sandboxID: sandbox.sandboxID,
            joinsPending: decision.joinsPending)
        respond(response, record: record, rejectedBy: nil, action: nil, close: !keepAlive, context: context,
                alreadyComplete: alreadyComplete)
    }

    func tooMany(record: AttemptRecord, sandbox: SandboxContext, target: Target, context: ChannelHandlerContext) {
        record.event.sandboxID = sandbox.sandboxID
        record.event.tenantID = sandbox.tenantID
        record.event.policyVersion = sandbox.policy.version
        respond(.tooManyRequests(retryAfterSeconds: 1, limit: gate.settings.maxConnectionsPerSandbox), record: record,
                rejectedBy: ProxyVocabulary.sandboxConnectionLimit, action: "reject", close: true, context: context)
    }

    func failed(_ exchange: Exchange, status: Int, message: String, context: ChannelHandlerContext) {
        exchange.upstreamChannel?.close(promise: nil)
        let response: ProxyResponse = status == 504 ? .gatewayTimeout(message) : .badGateway(message)
        state = .idle
        respond(response, record: exchange.record, rejectedBy: nil, action: "error", close: true, context: context,
                alreadyComplete: exchange.requestComplete)
    }

    /// Writes one of the gateway's own responses, records the attempt, and either waits for
    /// the rest of the request (then idles or closes) or closes at once.
    func respond(_ response: ProxyResponse, record: AttemptRecord, rejectedBy: String?, action: String?, close: Bool,
                 closeNow: Bool = false, context: ChannelHandlerContext, alreadyComplete: Bool = false) {
        if let action { record.failure(action: action, rejectedBy: rejectedBy, reason: response.body, status: response.status) }
        record.event.status = response.status
        record.finish()
        let bytes = ByteBuffer(string: response.body + "\n")
        context.write(wrapOutboundOut(.head(response.head(close: close || closeNow))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if closeNow || (close && alreadyComplete) {
            state = .closed
            context.close(promise: nil)
        } else if alreadyComplete {
            becomeIdle(context: context)
        } else {
            state = .discarding(close: close)
        }
    }
}
