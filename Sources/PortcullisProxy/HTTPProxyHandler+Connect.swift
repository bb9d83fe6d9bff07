import NIOCore
import NIOHTTP1
import PortcullisModel
import PortcullisPolicy
import PortcullisWire

extension HTTPProxyHandler {
    /// The CONNECT answer, written raw; one shared copy-on-write buffer, never copied.
    static let connectEstablished = ByteBuffer(string: "HTTP/1.1 200 Connection Established\r\n\r\n")

    /// CONNECT (RFC 9110 §9.3.6): decide, connect upstream at once, answer 200, then hand
    /// the connection to a checked tunnel.
    func startConnect(_ head: HTTPRequestHead, record: AttemptRecord, context: ChannelHandlerContext) {
        let parsed: (host: TargetHost, port: UInt16)
        do { parsed = try ConnectTarget.parse(head.uri) } catch {
            record.event.host = Escape.escaped(head.uri, limit: 200)
            respond(.badRequest(error.message), record: record, rejectedBy: ProxyVocabulary.badRequest, action: "error",
                    close: true, context: context)
            return
        }
        record.event.host = parsed.host.description
        record.event.port = Int(parsed.port)
        guard let sandbox = authenticate(head, context: context) else {
            respond(.proxyAuthenticationRequired(), record: record, rejectedBy: ProxyVocabulary.unauthenticated,
                    action: "reject", close: true, context: context)
            return
        }
        let target = Target(host: parsed.host, port: parsed.port, transport: .tcp, request: .opaque)
        guard gate.openConnection(sandboxID: sandbox.sandboxID) else {
            tooMany(record: record, sandbox: sandbox, target: target, context: context)
            return
        }
        record.countedSandbox = sandbox.sandboxID
        state = .tunnelling
        dropIdleUpstream()
        connectOnEnd = { [unowned self] in self.dial(record: record, sandbox: sandbox, target: target, context: context) }
    }

    func dial(record: AttemptRecord, sandbox: SandboxContext, target: Target, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context, record), eventLoop: context.eventLoop)
        EgressPlan.run(target: target, sandbox: sandbox, gate: gate, on: context.eventLoop).whenComplete { result in
            let (handler, context, record) = bound.value
            guard !handler.insideDecoder else {
                // Completed at once (a fake gate, or a connect that finished synchronously):
                // on the next tick, so the decoder is out of its decode loop before the
                // tunnel removes it.
                let later = NIOLoopBound((handler, context, record, result), eventLoop: context.eventLoop)
                context.eventLoop.execute {
                    let (handler, context, record, result) = later.value
                    handler.dialled(result, record: record, sandbox: sandbox, target: target, context: context)
                }
                return
            }
            handler.dialled(result, record: record, sandbox: sandbox, target: target, context: context)
        }
    }

    func dialled(_ result: Result<EgressOutcome, any Error>, record: AttemptRecord, sandbox: SandboxContext,
                 target: Target, context: ChannelHandlerContext) {
        let outcome: EgressOutcome
        switch result {
        case .success(let o): outcome = o
        case .failure(let error):
            outcome = .dialFailed(DialError(timedOut: false, message: "\(error)"), sandbox.policy.decide(target), nil)
        }
        guard context.channel.isActive, case .tunnelling = state, self.context != nil else {
            if case .connected(let channel, _, _) = outcome { channel.close(promise: nil) }
            record.finish()
            return
        }
        connectOutcome(outcome, record: record, sandbox: sandbox, target: target, context: context)
    }

    func connectOutcome(_ outcome: EgressOutcome, record: AttemptRecord, sandbox: SandboxContext, target: Target,
                        context: ChannelHandlerContext) {
        // Every answer but 200 ends the connection: the request's `.end` has already been seen.
        state = .discarding(close: true)
        switch outcome {
        case .rejected(let decision):
            reject(decision, target: target, sandbox: sandbox, record: record, keepAlive: false, context: context,
                   alreadyComplete: true)
        case .resolveFailed(let error, let decision):
            record.apply(decision, target: target, sandbox: sandbox)
            respond(error.timedOut ? .gatewayTimeout("lookup failed: \(error.message)") : .badGateway("lookup failed: \(error.message)"),
                    record: record, rejectedBy: nil, action: "error", close: true, context: context, alreadyComplete: true)
        case .dialFailed(let error, let decision, let address):
            record.apply(decision, target: target, sandbox: sandbox)
            record.event.address = address?.description
            let message = "upstream connect failed: \(error.message)"
            respond(error.timedOut ? .gatewayTimeout(message) : .badGateway(message), record: record, rejectedBy: nil,
                    action: "error", close: true, context: context, alreadyComplete: true)
        case .connected(let upstream, let address, let decision):
            record.apply(decision, target: target, sandbox: sandbox)
            record.event.address = address.description
            record.event.status = 200
            state = .tunnelling
            becomeTunnel(upstream: upstream, address: address, record: record, sandbox: sandbox, target: target,
                         context: context)
        }
    }

    /// Replaces the HTTP handlers by the tunnel. Order matters: the encoder goes first so
    /// the 200 is written raw (no framing headers added); the decoder goes last, so the
    /// bytes it holds after the CONNECT head (`.forwardBytes`) reach the tunnel's peeker.
    func becomeTunnel(upstream: any Channel, address: IPAddress, record: AttemptRecord, sandbox: SandboxContext,
                      target: Target, context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        let client = context.channel
        do {
            guard let encoder, let decoder else { throw ChannelPipelineError.notFound }
            pipeline.removeHandler(encoder, promise: nil)
            context.writeAndFlush(NIOAny(Self.connectEstablished), promise: nil)
            try Tunnel.install(client: context.channel, upstream: upstream, record: record, sandbox: sandbox,
                               target: target, address: address, gate: gate)
            pipeline.removeHandler(headGuard, promise: nil)
            pipeline.removeHandler(context: context, promise: nil)
            pipeline.removeHandler(decoder, promise: nil)
            // Reads were withheld while connecting; the tunnel's glue decides from now on.
            if pendingRead {
                pendingRead = false
                client.read()
            }
        } catch {
            upstream.close(promise: nil)
            record.finish()
            context.close(promise: nil)
        }
    }
}
