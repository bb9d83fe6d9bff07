import NIOCore
import NIOSOCKS
import PortcullisModel
import PortcullisPolicy
import PortcullisWire

/// Bounds the bytes a SOCKS5 handshake may send before its tunnel exists (NIOSOCKS buffers
/// without limit), and holds bytes a client sends after its request but before the reply
/// (NIOSOCKS would treat them as a protocol error). Removed when the tunnel is established.
final class SOCKSInputLimit: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private var remaining: Int
    private var context: ChannelHandlerContext?
    init(limit: Int) { remaining = limit }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Feeds bytes (already counted) to the handshake handler again.
    func reinject(_ bytes: ByteBuffer) { context?.fireChannelRead(NIOAny(bytes)) }

    private var holding = false
    private var held: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        remaining -= bytes.readableBytes
        guard remaining >= 0 else {
            context.close(promise: nil)
            return
        }
        if holding {
            if held == nil { held = bytes } else { held!.writeBuffer(&bytes) }
            return
        }
        context.fireChannelRead(data)
    }

    /// From now on, keep what arrives (the request is being decided).
    func hold() { holding = true }

    /// Hands the held bytes to the next handler (the tunnel, once installed).
    func release() {
        holding = false
        if let held, let context {
            self.held = nil
            context.fireChannelRead(NIOAny(held))
        }
    }
}

/// The SOCKS5 server side (RFC 1928, with RFC 1929 username/password): user = sandbox
/// id, password = proxy token; CONNECT only (BIND and UDP ASSOCIATE answer 0x07); a policy
/// rejection answers 0x02; a tunnel gets the same first-bytes check as CONNECT.
public final class SOCKSProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ClientMessage
    public typealias OutboundOut = ServerMessage

    enum State {
        case greeting
        case authenticating(ByteBuffer)
        case awaitingRequest(SandboxContext)
        case connecting
        case done
    }

    private let gate: any EgressGate
    private let limit: SOCKSInputLimit
    private var state: State = .greeting
    private var record: AttemptRecord?

    init(gate: any EgressGate, limit: SOCKSInputLimit) {
        self.gate = gate
        self.limit = limit
    }

    /// Adds the SOCKS5 handlers to a client channel's pipeline.
    public static func install(on channel: any Channel, gate: any EgressGate) throws {
        let limit = SOCKSInputLimit(limit: gate.settings.maxSOCKSHandshakeBytes)
        try channel.pipeline.syncOperations.addHandlers([
            limit, SOCKSServerHandshakeHandler(), SOCKSProxyHandler(gate: gate, limit: limit),
        ])
    }

    private func makeRecord(_ context: ChannelHandlerContext) -> AttemptRecord {
        if let record { return record }
        let r = AttemptRecord(gate: gate, client: context.remoteAddress.auditText, via: AuditVocabulary.viaSOCKS5)
        record = r
        return r
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Note to maintainers: when the channel closes, NIOSOCKS's handler surfaces its raw
        // buffer as it is removed; those bytes are not a `ClientMessage`, so a closed or
        // finished handshake must not unwrap anything.
        if case .done = state { return }
        let message = unwrapInboundIn(data)
        switch (state, message) {
        case (.greeting, .greeting(let greeting)):
            if greeting.methods.contains(.usernamePassword) {
                state = .authenticating(context.channel.allocator.buffer(capacity: 64))
                context.writeAndFlush(wrapOutboundOut(.selectedAuthenticationMethod(.init(method: .usernamePassword))),
                                      promise: nil)
                // NIOSOCKS parses one message per read: let it look at what it already holds.
                limit.reinject(context.channel.allocator.buffer(capacity: 0))
            } else if greeting.methods.contains(.noneRequired),
                      let sandbox = gate.authenticate(nil, source: context.remoteAddress) {
                state = .awaitingRequest(sandbox)
                context.writeAndFlush(wrapOutboundOut(.selectedAuthenticationMethod(.init(method: .noneRequired))),
                                      promise: nil)
                limit.reinject(context.channel.allocator.buffer(capacity: 0))
            } else {
                context.writeAndFlush(wrapOutboundOut(.selectedAuthenticationMethod(.init(method: .noneAcceptable))),
                                      promise: nil)
                unauthenticated(context, status: 0xFF)
            }
        case (.authenticating(var buffer), .authenticationData(var bytes)):
            buffer.writeBuffer(&bytes)
            switch SOCKSUsernamePassword.parse(&buffer) {
            case .needMoreBytes:
                guard buffer.readableBytes < SOCKSUsernamePassword.maxRequestBytes else {
                    unauthenticated(context, status: 1)
                    return
                }
                state = .authenticating(buffer)
            case .malformed:
                writeAuthResponse(false, context)
                unauthenticated(context, status: 1)
            case .credential(let credential):
                guard let sandbox = gate.authenticate(credential, source: context.remoteAddress) else {
                    writeAuthResponse(false, context)
                    unauthenticated(context, status: 1)
                    return
                }
                writeAuthResponse(true, context)
                state = .awaitingRequest(sandbox)
                // NIOSOCKS hands over everything after the method selection as auth data; bytes
                // past the sub-negotiation (a pipelined request) go back to its parser.
                if buffer.readableBytes > 0 { limit.reinject(buffer) }
            }
        case (.awaitingRequest(let sandbox), .request(let request)):
            state = .connecting
            limit.hold()
            // On the next tick: NIOSOCKS's handler must be out of its `channelRead` before the
            // tunnel removes it.
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = bound.value
                guard context.channel.isActive else { return }
                handler.handleRequest(request, sandbox: sandbox, context: context)
            }
        case (.greeting, _), (.authenticating, _), (.awaitingRequest, _), (.connecting, _), (.done, _):
            state = .done
            context.close(promise: nil)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        state = .done
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Malformed SOCKS input (NIOSOCKS parse errors): nothing sensible to answer.
        if case .done = state {} else {
            let record = makeRecord(context)
            record.failure(action: "error", rejectedBy: ProxyVocabulary.badRequest,
                           reason: "malformed SOCKS5 handshake", status: nil)
            record.finish()
        }
        state = .done
        context.close(promise: nil)
    }

    private func writeAuthResponse(_ success: Bool, _ context: ChannelHandlerContext) {
        var reply = context.channel.allocator.buffer(capacity: 2)
        SOCKSUsernamePassword.writeResponse(success: success, into: &reply)
        context.writeAndFlush(wrapOutboundOut(.authenticationData(reply, complete: true)), promise: nil)
    }

    private func unauthenticated(_ context: ChannelHandlerContext, status: Int) {
        let record = makeRecord(context)
        record.failure(action: "reject", rejectedBy: ProxyVocabulary.unauthenticated,
                       reason: "no, wrong or unknown SOCKS5 credentials", status: status)
        record.finish()
        state = .done
        context.close(promise: nil)
    }

    private func reply(_ reply: SOCKSServerReply, _ context: ChannelHandlerContext, bound: SocketAddress? = nil) {
        let address = bound ?? (try! SocketAddress(ipAddress: "0.0.0.0", port: 0))
        context.writeAndFlush(wrapOutboundOut(.response(SOCKSResponse(reply: reply, boundAddress: .address(address)))),
                              promise: nil)
    }

    private func handleRequest(_ request: SOCKSRequest, sandbox: SandboxContext, context: ChannelHandlerContext) {
        let record = makeRecord(context)
        record.event.sandboxID = sandbox.sandboxID
        record.event.tenantID = sandbox.tenantID
        record.event.policyVersion = sandbox.policy.version
        let host: TargetHost
        let port: UInt16
        switch request.addressType {
        case .address(let address):
            record.event.host = address.ipAddress ?? "?"
            guard let ip = IPAddress(socketAddress: address), let p = address.port, p > 0, p <= 65535 else {
                return refuse(.addressUnsupported, record: record, reason: "unusable address", context: context)
            }
            host = .address(ip)
            port = UInt16(p)
        case .domain(let name, let p):
            record.event.host = Escape.escaped(name, limit: 255)
            guard let parsed = try? HostParser.parseTarget(name), p > 0, p <= 65535 else {
                return refuse(.addressUnsupported, record: record, reason: "unusable host name", context: context)
            }
            host = parsed
            port = UInt16(p)
        }
        record.event.host = host.description
        record.event.port = Int(port)
        guard request.command == .connect else {
            let name = request.command == .bind ? "BIND" : request.command == .udpAssociate ? "UDP ASSOCIATE" : "command \(request.command.value)"
            return refuse(.commandUnsupported, record: record, reason: "SOCKS5 \(name) is not supported; only CONNECT",
                          context: context)
        }
        let target = Target(host: host, port: port, transport: .tcp, request: .opaque)
        guard gate.openConnection(sandboxID: sandbox.sandboxID) else {
            record.failure(action: "reject", rejectedBy: ProxyVocabulary.sandboxConnectionLimit,
                           reason: "this sandbox already has \(gate.settings.maxConnectionsPerSandbox) open connections",
                           status: Int(SOCKSServerReply.notAllowed.value))
            reply(.notAllowed, context)
            return finishAndClose(record, context)
        }
        record.countedSandbox = sandbox.sandboxID
        let bound = NIOLoopBound((self, context, record), eventLoop: context.eventLoop)
        EgressPlan.run(target: target, sandbox: sandbox, gate: gate, on: context.eventLoop).whenComplete { result in
            let (handler, context, record) = bound.value
            guard context.channel.isActive else {
                if case .success(.connected(let channel, _, _)) = result { channel.close(promise: nil) }
                record.finish()
                return
            }
            switch result {
            case .failure(let error):
                record.failure(action: "error", rejectedBy: nil, reason: "\(error)", status: 1)
                handler.reply(.serverFailure, context)
                handler.finishAndClose(record, context)
            case .success(let outcome):
                handler.handle(outcome, record: record, sandbox: sandbox, target: target, context: context)
            }
        }
    }

    private func handle(_ outcome: EgressOutcome, record: AttemptRecord, sandbox: SandboxContext, target: Target,
                        context: ChannelHandlerContext) {
        switch outcome {
        case .rejected(let decision):
            record.apply(decision, target: target, sandbox: sandbox)
            record.event.status = Int(SOCKSServerReply.notAllowed.value)
            reply(.notAllowed, context)
            finishAndClose(record, context)
        case .resolveFailed(let error, let decision):
            record.apply(decision, target: target, sandbox: sandbox)
            record.failure(action: "error", rejectedBy: nil, reason: "lookup failed: \(error.message)",
                           status: Int(SOCKSServerReply.hostUnreachable.value))
            reply(.hostUnreachable, context)
            finishAndClose(record, context)
        case .dialFailed(let error, let decision, let address):
            record.apply(decision, target: target, sandbox: sandbox)
            record.event.address = address?.description
            let code: SOCKSServerReply = error.timedOut ? .ttlExpired : .refused
            record.failure(action: "error", rejectedBy: nil, reason: "upstream connect failed: \(error.message)",
                           status: Int(code.value))
            reply(code, context)
            finishAndClose(record, context)
        case .connected(let upstream, let address, let decision):
            record.apply(decision, target: target, sandbox: sandbox)
            record.event.address = address.description
            record.event.status = Int(SOCKSServerReply.succeeded.value)
            state = .done
            reply(.succeeded, context, bound: upstream.localAddress)
            let pipeline = context.pipeline.syncOperations
            do {
                try Tunnel.install(client: context.channel, upstream: upstream, record: record, sandbox: sandbox,
                                   target: target, address: address, gate: gate)
                let handshake = try pipeline.handler(type: SOCKSServerHandshakeHandler.self)
                pipeline.removeHandler(context: context, promise: nil)
                // Removing the handshake handler surfaces the bytes it buffered to the peeker;
                // then come the bytes the limit held back, in the order they arrived.
                pipeline.removeHandler(handshake, promise: nil)
                limit.release()
                pipeline.removeHandler(limit, promise: nil)
            } catch {
                upstream.close(promise: nil)
                finishAndClose(record, context)
            }
        }
    }

    private func refuse(_ code: SOCKSServerReply, record: AttemptRecord, reason: String, context: ChannelHandlerContext) {
        record.failure(action: "reject", rejectedBy: code == .commandUnsupported ? ProxyVocabulary.commandUnsupported
                       : ProxyVocabulary.badRequest, reason: reason, status: Int(code.value))
        reply(code, context)
        finishAndClose(record, context)
    }

    private func finishAndClose(_ record: AttemptRecord, _ context: ChannelHandlerContext) {
        state = .done
        record.finish()
        context.close(promise: nil)
    }
}
