import NIOCore
import NIOSOCKS
import PortcullisAudit
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
    init(limit: Int) {
        remaining = limit
        self.limit = limit
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Whether any byte of the handshake has arrived.
    var anyReceived: Bool { remaining < limit }
    private let limit: Int

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
/// id, password = proxy token; CONNECT only (BIND and UDP ASSOCIATE answer 0x07). Once the
/// request is read, the handshake handlers leave and a `TunnelHandler` decides, dials,
/// answers (0x00, 0x02 for a policy rejection, …) and relays, with the same first-bytes
/// checks as CONNECT. The handshake (greeting, authentication, request) must be complete
/// within the head timeout (10 s by default), or the connection closes (with an entry when
/// the client sent anything): a client that stays silent cannot hold a connection slot.
public final class SOCKSProxyHandler: ChannelInboundHandler, RemovableChannelHandler, NIOScheduledCallbackHandler {
    public typealias InboundIn = ClientMessage
    public typealias OutboundOut = ServerMessage

    enum State {
        case greeting
        case authenticating(ByteBuffer)
        case awaitingRequest(SandboxContext)
        case connecting
        case done
    }

    private let env: ProxyEnvironment
    private let limit: SOCKSInputLimit
    private var state: State = .greeting
    private var context: ChannelHandlerContext?
    private var deadline: NIOScheduledCallback?

    init(env: ProxyEnvironment, limit: SOCKSInputLimit) {
        self.env = env
        self.limit = limit
    }

    /// Adds the SOCKS5 handlers to a client channel's pipeline.
    public static func install(on channel: any Channel, env: ProxyEnvironment) throws {
        let limit = SOCKSInputLimit(limit: env.settings.maxSOCKSHandshakeBytes)
        try channel.pipeline.syncOperations.addHandlers([
            limit, SOCKSServerHandshakeHandler(), SOCKSProxyHandler(env: env, limit: limit),
        ])
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // The handler is the callback's handler: no promise, future or closure per connection.
        deadline = try? context.eventLoop.assumeIsolated().scheduleCallback(in: env.settings.headTimeout, handler: self)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        self.context = nil
    }

    public func handleScheduledCallback(eventLoop: some EventLoop) {
        deadline = nil
        guard let context else { return }
        switch state {
        case .connecting, .done: return
        case .greeting, .authenticating, .awaitingRequest: break
        }
        if limit.anyReceived {
            var record = env.record(.socks5, client: context.channel.remoteAddress)
            if case .awaitingRequest(let sandbox) = state { record.identify(sandbox) }
            let ms = env.settings.headTimeout.nanoseconds / 1_000_000
            let bound = ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
            record.refuse(.error, AuditVocabulary.badRequest, reason: "the SOCKS5 handshake did not complete within \(bound)")
            env.finish(record)
        }
        state = .done
        context.close(promise: nil)
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
                      let sandbox = env.directory.authenticate(nil, source: context.channel.remoteAddress) {
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
                guard let sandbox = env.directory.authenticate(credential, source: context.channel.remoteAddress) else {
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
            deadline?.cancel()
            deadline = nil
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
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Malformed SOCKS input (NIOSOCKS parse errors): nothing sensible to answer.
        if case .done = state {} else {
            var record = env.record(.socks5, client: context.channel.remoteAddress)
            record.refuse(.error, AuditVocabulary.badRequest, reason: "malformed SOCKS5 handshake")
            env.finish(record)
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
        var record = env.record(.socks5, client: context.channel.remoteAddress)
        record.refuse(.reject, AuditVocabulary.unauthenticated, reason: "no, wrong or unknown SOCKS5 credentials")
        record.status = status
        env.finish(record)
        state = .done
        context.close(promise: nil)
    }

    private func handleRequest(_ request: SOCKSRequest, sandbox: SandboxContext, context: ChannelHandlerContext) {
        var record = env.record(.socks5, client: context.channel.remoteAddress)
        record.identify(sandbox)
        let host: TargetHost
        let port: UInt16
        switch request.addressType {
        case .address(let address):
            record.host = address.ipAddress ?? "?"
            guard let ip = IPAddress(socketAddress: address), let p = address.port, p > 0, p <= 65535 else {
                return refuse(SOCKSReply.addressUnsupported, AuditVocabulary.badRequest, "unusable address", &record, context)
            }
            host = .address(ip)
            port = UInt16(p)
        case .domain(let name, let p):
            record.host = Escape.escaped(name, limit: 255)
            guard let parsed = try? HostParser.parseTarget(name), p > 0, p <= 65535 else {
                return refuse(SOCKSReply.addressUnsupported, AuditVocabulary.badRequest, "unusable host name", &record, context)
            }
            host = parsed
            port = UInt16(p)
        }
        record.host = host.description
        record.port = Int(port)
        guard request.command == .connect else {
            let name = request.command == .bind ? "BIND" : request.command == .udpAssociate ? "UDP ASSOCIATE" : "command \(request.command.value)"
            return refuse(SOCKSReply.commandUnsupported, AuditVocabulary.commandUnsupported,
                          "SOCKS5 \(name) is not supported; only CONNECT", &record, context)
        }
        guard env.connections.openConnection(sandboxID: sandbox.sandboxID) else {
            return refuse(SOCKSReply.notAllowed, AuditVocabulary.sandboxConnectionLimit,
                          "this sandbox already has \(env.settings.maxConnectionsPerSandbox) open connections", &record, context,
                          action: .reject)
        }
        let target = Target(host: host, port: port, transport: .tcp, request: .opaque)
        let machine = TunnelMachine(kind: .socks5, target: target, sandbox: sandbox, record: record, settings: env.settings,
                                    listeners: env.listeners, canTerminate: env.tls != nil)
        let tunnel = TunnelHandler(machine: machine, ingress: .socks5, env: env, countsConnection: true, startWhenAdded: false)
        let pipeline = context.pipeline.syncOperations
        do {
            try pipeline.addHandler(tunnel, position: .last)
            let handshake = try pipeline.handler(type: SOCKSServerHandshakeHandler.self)
            state = .done
            pipeline.removeHandler(context: context, promise: nil)
            // Removing the handshake handler surfaces the bytes it buffered to the tunnel;
            // then come the bytes the limit held back, in the order they arrived.
            pipeline.removeHandler(handshake, promise: nil)
            limit.release()
            pipeline.removeHandler(limit, promise: nil)
            tunnel.begin()
        } catch {
            env.connections.closeConnection(sandboxID: sandbox.sandboxID)
            env.finish(record)
            context.close(promise: nil)
        }
    }

    /// A request refused before any dial: the reply code (written by NIOSOCKS's encoder,
    /// still in place), the entry, the close.
    private func refuse(_ code: UInt8, _ rejectedBy: String, _ reason: String, _ record: inout AuditRecord,
                        _ context: ChannelHandlerContext, action: AuditAction = .reject) {
        record.refuse(action, rejectedBy, reason: reason)
        record.status = Int(code)
        env.finish(record)
        state = .done
        let address = try! SocketAddress(ipAddress: "0.0.0.0", port: 0)
        let response = SOCKSResponse(reply: SOCKSServerReply(value: code), boundAddress: .address(address))
        context.writeAndFlush(wrapOutboundOut(.response(response))).whenComplete { _ in context.close(promise: nil) }
    }
}
