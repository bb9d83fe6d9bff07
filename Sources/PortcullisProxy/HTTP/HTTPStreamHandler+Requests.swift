import NIOCore
import NIOHTTP1
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

extension HTTPStreamHandler {
    /// Identity from `Proxy-Authorization: Basic` or, without one, the source address.
    /// A header that is present but unusable never falls back to the source address.
    /// A keep-alive connection's next request with the same header (or none again) keeps
    /// the identity its previous one was given, while no policy update happened in between
    /// (`SandboxDirectory.generation`); only an identity that was given is kept.
    func authenticate(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> SandboxContext? {
        let values = head.headers["proxy-authorization"]
        guard values.count <= 1 else { return nil }
        let generation = env.directory.generation
        if let generation, let memo = identityMemo, memo.generation == generation, memo.header == values.first {
            return memo.sandbox
        }
        let sandbox: SandboxContext?
        if let value = values.first {
            guard let credential = ProxyCredential.parseBasic(value) else { return nil }
            sandbox = env.directory.authenticate(credential, source: clientAddress(context))
        } else {
            sandbox = env.directory.authenticate(nil, source: clientAddress(context))
        }
        if let generation, let sandbox { identityMemo = IdentityMemo(generation: generation, header: values.first, sandbox: sandbox) }
        return sandbox
    }

    /// The name stage's decision on `target`: the connection's previous one when it asked the
    /// same of the same sandbox's policy with no policy update since (a compiled policy is
    /// immutable and its decision a function of the target alone).
    func decide(_ target: Target, _ sandbox: SandboxContext) -> Decision {
        let generation = env.directory.generation
        if let generation, let memo = decisionMemo, memo.generation == generation, memo.sandboxID == sandbox.sandboxID,
           memo.policyVersion == sandbox.policy.version, memo.target == target {
            return memo.decision
        }
        let decision = sandbox.policy.decide(target)
        if let generation {
            decisionMemo = DecisionMemo(generation: generation, sandboxID: sandbox.sandboxID, policyVersion: sandbox.policy.version,
                                        target: target, decision: decision)
        }
        return decision
    }

    /// A new request head: checked, identified, decided, then dialled or refused.
    func start(_ head: HTTPRequestHead, _ context: ChannelHandlerContext) {
        var record = newRecord(head.method == .CONNECT ? .connect : via, context)
        let headSize = head.uri.utf8.count + head.method.rawValue.utf8.count + 12 + head.headers.wireSize
        if headSize > env.settings.maxHeadBytes {
            recordUnparsed(head, into: &record, context)
            return refuse(.headersTooLarge(limit: env.settings.maxHeadBytes), record: &record, .error,
                          AuditVocabulary.badRequest, close: true, context)
        }
        let checked: CheckedRequest
        // Only the forward listener keeps an authority between requests (a tunnel's stream
        // names its host in origin form).
        let result: Result<CheckedRequest, RequestHeadCheck.Refusal>
        if case .forward = mode {
            result = RequestHeadCheck.check(head, http2: isHTTP2Stream, authorities: &authorityMemo)
        } else {
            result = RequestHeadCheck.check(head, http2: isHTTP2Stream)
        }
        switch result {
        case .success(let c): checked = c
        case .failure(let refusal):
            recordUnparsed(head, into: &record, context)
            // The framing may be what was wrong: never guess where this request ends.
            return refuse(.badRequest(refusal.message), record: &record, .error, AuditVocabulary.badRequest, close: true,
                          closeNow: true, context)
        }
        // Inside terminated TLS a request names its target as a path (INSPECTION.md: a
        // non-origin-form target is refused with 400, never forwarded).
        if case .origin(let origin) = mode, origin.terminated, case .absolute = checked.form {
            recordUnparsed(head, into: &record, context)
            return refuse(.badRequest("the request target is not origin-form (/path)"), record: &record, .error,
                          AuditVocabulary.badRequest, close: true, closeNow: true, context)
        }
        switch mode {
        case .forward:
            startForward(head, checked, record: record, context)
        case .origin(let origin):
            startInOrigin(head, checked, origin: origin, record: record, context)
        }
    }

    /// A request refused before its target was read: inside a tunnel the entry names the
    /// tunnel's host, with the target as sent (escaped, no query) as its path. On the
    /// forward listener the entry is still the sandbox's (identified as any request is;
    /// unusable credentials leave it unattributed), with host, port and path split out of
    /// an absolute URI whose authority parses; otherwise the target stands for the host.
    private func recordUnparsed(_ head: HTTPRequestHead, into record: inout AuditRecord, _ context: ChannelHandlerContext) {
        let target = AuditRecord.unparsedTarget(head.uri)
        record.method = head.method.rawValue.count <= 32 ? head.method.rawValue : nil
        switch mode {
        case .origin(let origin):
            origin.stamp(&record)
            record.path = target
        case .forward:
            if let sandbox = authenticate(head, context: context) { record.identify(sandbox) }
            if let absolute = try? AbsoluteTarget.parse(head.uri) {
                record.host = absolute.host.description
                record.port = Int(absolute.port)
                record.path = AuditRecord.unparsedTarget(absolute.originForm)
            } else if head.uri.hasPrefix("/"), let hostHeader = head.headers.first(name: "host"),
                      let authority = try? Authority.parse(Substring(hostHeader)) {
                // An origin-form target (`GET / HTTP/1.1`): the host it named is the Host header's.
                record.host = authority.host.description
                record.port = Int(authority.port ?? 80)
                record.path = target
            } else {
                record.host = target
            }
        }
    }

    // MARK: - Forward proxy

    private func startForward(_ head: HTTPRequestHead, _ checked: CheckedRequest, record: consuming AuditRecord,
                              _ context: ChannelHandlerContext) {
        let host: TargetHost
        let port: UInt16
        switch checked.form {
        case .authority(let h, let p):
            record.host = h.description
            record.port = Int(p)
            guard checked.framing == .none else {
                return refuse(.badRequest("a CONNECT request has no body"), record: &record, .error, AuditVocabulary.badRequest,
                              close: true, context)
            }
            guard let sandbox = authenticate(head, context: context) else {
                return refuse(.proxyAuthenticationRequired(), record: &record, .reject, AuditVocabulary.unauthenticated,
                              close: true, context)
            }
            return startConnect(host: h, port: p, sandbox: sandbox, record: record, context)
        case .origin:
            recordUnparsed(head, into: &record, context)
            return refuse(.badRequest("a forward proxy needs an absolute URI (http://host/path)"), record: &record, .error,
                          AuditVocabulary.badRequest, close: !head.isKeepAlive, context)
        case .absolute(let authority):
            host = authority.host
            port = authority.port ?? 80
        }
        let target = Target(host: host, port: port, transport: .tcp,
                            request: .visible(RequestLine(method: checked.method.rawValue, path: checked.path)))
        record.ask(target)
        guard let sandbox = authenticate(head, context: context) else {
            return refuse(.proxyAuthenticationRequired(), record: &record, .reject, AuditVocabulary.unauthenticated,
                          close: true, context)
        }
        record.identify(sandbox)
        // A Host spelled exactly as the URI's authority names the same host and port; any
        // other spelling is parsed and compared.
        if let hostHeader = checked.host, !Self.uri(head.uri, hasAuthority: hostHeader) {
            let parsed = try? Authority.parse(Substring(hostHeader))
            if parsed?.host != host || (parsed?.port ?? 80) != port {
                let decision = sandbox.policy.reject(.hostMismatch(other: hostHeader), for: target)
                record.decide(decision, on: target)
                return refuse(.forbidden(decision, port: port, sandboxID: sandbox.sandboxID), record: &record, close: !head.isKeepAlive,
                              context)
            }
        }
        guard env.connections.openConnection(sandboxID: sandbox.sandboxID) else {
            return refuse(.tooManyRequests(retryAfterSeconds: 1, limit: env.settings.maxConnectionsPerSandbox), record: &record,
                          .reject, AuditVocabulary.sandboxConnectionLimit, close: true, context)
        }
        let exchange = Exchange(record: consume record, request: checked, headers: head.headers, target: target, sandbox: sandbox,
                                keepAlive: head.isKeepAlive)
        exchange.counted = true
        // Plain HTTP never carries a credential: any placeholder is a misuse.
        if !applyCredentials(exchange, host: host, port: port, terminated: false, context) { return }
        state = .connecting(exchange)

        // Reuse the kept upstream when it goes to the same place and its address still passes.
        if let idle = idleUpstream, idle.sandboxID == sandbox.sandboxID, idle.host == host, idle.port == port,
           idle.channel.isActive {
            idleUpstream = nil
            env.connections.untrack(idle.live)
            var decision = sandbox.policy.check(decide(target, sandbox), dialling: idle.address, for: target)
            if decision.verdict.permits, env.listeners.covers(idle.address, port: port) {
                decision = sandbox.policy.reject(.gatewayListener(idle.address, port: port), for: target)
            }
            if decision.verdict.permits {
                return connected(exchange, channel: idle.channel, handler: idle.handler, address: idle.address,
                                 decision: decision, context)
            }
            idle.channel.close(promise: nil)
        } else {
            dropIdleUpstream()
        }
        var egress = Egress(target: target, policy: sandbox.policy, listeners: env.listeners)
        let t0 = NIODeadline.now()
        let action = egress.start()
        env.audit.observeDecision(nanoseconds: (NIODeadline.now() - t0).nanoseconds)
        perform(action, egress, exchange, context)
    }

    /// Whether `uri` is `http://` (any case), then exactly `authority`, then the end or a
    /// `/`, `?` or `#`: the authority `AbsoluteTarget` parsed, byte for byte.
    static func uri(_ uri: String, hasAuthority authority: String) -> Bool {
        func delimits(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") }
        let scheme = "http://".utf8.count
        let answer = uri.utf8.withContiguousStorageIfAvailable { u in
            authority.utf8.withContiguousStorageIfAvailable { a -> Bool in
                let end = scheme + a.count
                guard u.count >= end, AbsoluteTarget.startsWithHTTPScheme(u),
                      !a.contains(where: delimits), UnsafeBufferPointer(rebasing: u[scheme..<end]).elementsEqual(a)
                else { return false }
                return end == u.count || delimits(u[end])
            }
        }
        return (answer ?? nil) ?? false  // not contiguous: parsed instead
    }

    /// Performs one `Egress` action for a forward-proxy exchange.
    private func perform(_ action: Egress.Action, _ egress: Egress, _ exchange: Exchange, _ context: ChannelHandlerContext) {
        var egress = egress
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        func stillCurrent(_ handler: HTTPStreamHandler) -> Bool {
            if case .connecting(let current) = handler.state, current === exchange { return true }
            return false
        }
        switch action {
        case .resolve(let name):
            env.dialler.resolve(name, on: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                guard stillCurrent(handler) else { return }
                let mapped = result.mapError { ($0 as? ResolveError) ?? ResolveError(timedOut: false, message: "\($0)") }
                let t0 = NIODeadline.now()
                let next = egress.resolved(mapped)
                handler.env.audit.observeDecision(nanoseconds: (NIODeadline.now() - t0).nanoseconds)
                handler.perform(next, egress, exchange, context)
            }
        case .dial(let address, let port):
            exchange.address = address
            env.dialler.connect(to: address, port: port, on: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                guard stillCurrent(handler) else {
                    if case .success(let channel) = result { channel.close(promise: nil) }
                    return
                }
                switch result {
                case .success(let channel):
                    handler.pendingUpstream = channel
                    handler.perform(egress.dialled(.success(())), egress, exchange, context)
                case .failure(let error):
                    let dialError = (error as? DialError) ?? DialError(timedOut: false, message: "\(error)")
                    handler.perform(egress.dialled(.failure(dialError)), egress, exchange, context)
                }
            }
        case .connected(let address, let decision):
            guard let channel = pendingUpstream else { return }
            pendingUpstream = nil
            let upstream = UpstreamHTTPHandler()
            do {
                try channel.pipeline.syncOperations.addUpstreamHTTPHandlers(upstream)
                try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            } catch {
                channel.close(promise: nil)
                exchange.record.decide(decision, on: exchange.target)
                return failed(exchange, status: 502, message: "upstream setup failed", context)
            }
            connected(exchange, channel: channel, handler: upstream, address: address, decision: decision, context)
        case .refused(let decision):
            exchange.record.decide(decision, on: exchange.target)
            releaseSlot(exchange)
            state = .idle
            refuse(.forbidden(decision, port: exchange.target.port, sandboxID: exchange.sandbox.sandboxID),
                   exchange: exchange, close: !exchange.keepAlive, context)
        case .failed(let failure, let decision, let address):
            exchange.record.decide(decision, on: exchange.target)
            exchange.record.address = address?.description
            failed(exchange, status: failure.timedOut ? 504 : 502, message: failure.description, context)
        }
    }

    // MARK: - Inside a tunnel

    private func startInOrigin(_ head: HTTPRequestHead, _ checked: CheckedRequest, origin: Origin, record: consuming AuditRecord,
                               _ context: ChannelHandlerContext) {
        origin.stamp(&record)
        let target = Target(host: origin.host, port: origin.port, transport: .tcp,
                            request: .visible(RequestLine(method: checked.method.rawValue, path: checked.path)))
        record.ask(target)
        let policy = origin.sandbox.policy
        // The request must name the tunnel's host: by its absolute URI and by its Host.
        var named: [String] = []
        switch checked.form {
        case .authority:
            return refuse(.badRequest("CONNECT inside a tunnel is not accepted"), record: &record, .error,
                          AuditVocabulary.badRequest, close: true, context)
        case .absolute(let authority):
            if authority.host != origin.host || (authority.port ?? 80) != origin.port { named.append(authority.hostText) }
        case .origin:
            break
        }
        if let hostHeader = checked.host {
            let parsed = try? Authority.parse(Substring(hostHeader))
            if parsed?.host != origin.host || (parsed?.port.map { $0 != origin.port } ?? false) { named.append(hostHeader) }
        } else if checked.version.major >= 2 || checked.version.minor >= 1 {
            return refuse(.badRequest("an HTTP/1.1 request without Host"), record: &record, .error, AuditVocabulary.badRequest,
                          close: !head.isKeepAlive, context)
        }
        let decision: Decision
        if let other = named.first {
            decision = policy.reject(origin.terminated ? .authorityMismatch(other: other) : .hostMismatch(other: other), for: target)
        } else {
            let t0 = NIODeadline.now()
            var d = policy.check(policy.decide(target), dialling: origin.address, for: target)
            if d.verdict.permits, env.listeners.covers(origin.address, port: origin.port) {
                d = policy.reject(.gatewayListener(origin.address, port: origin.port), for: target)
            }
            env.audit.observeDecision(nanoseconds: (NIODeadline.now() - t0).nanoseconds)
            decision = d
        }
        record.decide(decision, on: target)
        let exchange = Exchange(record: consume record, request: checked, headers: head.headers, target: target,
                                sandbox: origin.sandbox, keepAlive: head.isKeepAlive)
        guard decision.verdict.permits else {
            let response: ProxyResponse = decision.rejectedBy == AuditVocabulary.authorityMismatch
                ? .misdirected(decision, port: origin.port)
                : .forbidden(decision, port: origin.port, sandboxID: origin.sandbox.sandboxID)
            return refuse(response, exchange: exchange, close: !head.isKeepAlive, context)
        }
        if !applyCredentials(exchange, host: origin.host, port: origin.port, terminated: origin.terminated, context) { return }
        state = .connecting(exchange)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        origin.upstream.acquire(on: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            guard case .connecting(let current) = handler.state, current === exchange else {
                if case .success(let upstream) = result { _ = origin.upstream.release(upstream, reusable: true) }
                return
            }
            switch result {
            case .success(let upstream):
                guard let channel = upstream.channel else {
                    return handler.failed(exchange, status: 502, message: "the upstream connection is closed", context)
                }
                handler.connected(exchange, channel: channel, handler: upstream, address: origin.address, decision: decision,
                                  context)
            case .failure(let error):
                handler.failed(exchange, status: 502, message: "\(error)", context)
            }
        }
    }

    /// Origin mode: the stream is re-checked on every policy change for its host as a whole
    /// (a host now denied closes it at once; requests in flight are re-checked on their own).
    func trackStream(_ origin: Origin, _ context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let live = LiveConnection(sandboxID: origin.sandbox.sandboxID,
                                  target: Target(host: origin.host, port: origin.port, transport: .tcp, request: .notApplicable),
                                  address: origin.address, isTunnel: true, decidedUnder: origin.sandbox.policy.version) { now in
            loop.execute {
                let handler = bound.value
                handler.tunnelRecord?.closeCause = .policyChanged(now)
                if case .forwarding(let exchange) = handler.state { exchange.record.closeCause = .policyChanged(now) }
                guard let context = handler.context else { return }
                handler.closeNow(context)
            }
        }
        streamLive = live
        env.connections.track(live)
    }
}
