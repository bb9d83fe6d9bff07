import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// Performs one `TunnelMachine` on a client channel: it dials, answers the ingress's
/// success or refusal on the wire (`Ingress`), holds and hands over the first bytes, and
/// then is the client side of the relay (with `UpstreamGlue` on the upstream channel):
/// back-pressure both ways, half-close, byte counts, one timer for the first-bytes
/// deadline and the idle timeout. The audit entry is written once, when the client channel
/// closes (or, for a tunnel that becomes an HTTP stream without a line of its own, never).
///
/// Duplex for one outbound operation only: `read` (back-pressure: the client is not read
/// while the upstream cannot take more). As an inbound-only handler its `read` was never
/// called, and a client could fill the upstream's write buffer without bound.
final class TunnelHandler: ChannelDuplexHandler, RemovableChannelHandler, NIOScheduledCallbackHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The ingress's own wire replies.
    enum Ingress {
        case connect
        case socks5
        case transparent
    }

    let env: ProxyEnvironment
    let ingress: Ingress
    var machine: TunnelMachine
    var context: ChannelHandlerContext?
    var upstream: (any Channel)?
    var upstreamGlue: UpstreamGlue?
    var live: LiveConnection?
    var started = false
    var finished = false
    /// Set when the HTTP stream took the connection over (it writes its own lines).
    var handedOver = false
    var keepRecord = true
    /// Whether the sandbox's connection count was taken for this tunnel (released on close).
    let countsConnection: Bool
    /// A CONNECT's HTTP handlers, kept behind this one until the first bytes are judged:
    /// the tunnel's stream if they are HTTP, removed otherwise (`releaseKeptHTTP`).
    var keptHTTP: HTTPStreamHandler?

    // Relay bookkeeping.
    var pendingRead = false
    var inputClosed = false
    var outputClosed = false
    var lastActivity: NIODeadline = .uptimeNanoseconds(0)
    var timer: NIOScheduledCallback?
    /// When the one timer fires next.
    var timerDue: NIODeadline?
    var deadline: NIODeadline?

    /// `startWhenAdded`: false when the ingress still has handlers to remove (its own wire
    /// codecs) before the tunnel may write: it then calls `begin()`.
    init(machine: TunnelMachine, ingress: Ingress, env: ProxyEnvironment, countsConnection: Bool, startWhenAdded: Bool) {
        self.machine = machine
        self.ingress = ingress
        self.env = env
        self.countsConnection = countsConnection
        self.startWhenAdded = startWhenAdded
    }

    let startWhenAdded: Bool

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if startWhenAdded, context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if startWhenAdded { start(context) }
        context.fireChannelActive()
    }

    /// Starts the machine once the ingress's handshake handlers are gone.
    func begin() {
        guard let context else { return }
        guard context.channel.isActive else {
            finish()
            return
        }
        start(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        lastActivity = context.eventLoop.now
        if let idle = env.settings.tunnelIdleTimeout { arm(context, at: lastActivity + idle) }
        // Half-close travels through the tunnel. (Reads already grow for bulk transfers: the
        // gateway's listeners give every accepted connection `TunnelReads.allocator`.)
        try? context.channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        perform(machine.start(), context)
    }

    // MARK: - Actions

    func perform(_ action: TunnelMachine.Action, _ context: ChannelHandlerContext) {
        switch action {
        case .wait:
            return
        case .resolve(let name):
            let t0 = NIODeadline.now()
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            env.dialler.resolve(name, on: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                guard handler.context != nil, !handler.machine.isClosed else { return }
                handler.env.audit.observeDecision(nanoseconds: (NIODeadline.now() - t0).nanoseconds)
                let mapped = result.mapError { ($0 as? ResolveError) ?? ResolveError(timedOut: false, message: "\($0)") }
                handler.perform(handler.machine.resolved(mapped), context)
            }
        case .dial(let address, let port):
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            env.dialler.connect(to: address, port: port, on: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let channel):
                    guard handler.context != nil, context.channel.isActive, !handler.machine.isClosed else {
                        channel.close(promise: nil)
                        return
                    }
                    handler.connected(channel, context)
                    handler.perform(handler.machine.dialled(.success(())), context)
                case .failure(let error):
                    guard handler.context != nil, !handler.machine.isClosed else { return }
                    let dialError = (error as? DialError) ?? DialError(timedOut: false, message: "\(error)")
                    handler.perform(handler.machine.dialled(.failure(dialError)), context)
                }
            }
        case .established(let address):
            answerEstablished(context)
            startUpstream(address: address, context)
            perform(machine.afterEstablished(), context)
        case .relay(let bytes):
            releaseKeptHTTP()
            if let address = machine.address { startUpstream(address: address, context) }
            cancelDeadline()
            if let bytes, bytes.readableBytes > 0 {
                machine.countUp(bytes.readableBytes)
                upstreamGlue?.write(bytes)
                upstreamGlue?.flush()
            }
            if inputClosed { upstreamGlue?.writeEOF() }
            if pendingRead {
                pendingRead = false
                context.read()
            }
        case .inspectHTTP(let bytes, let origin, let decision, let keep):
            cancelDeadline()
            handOverToHTTP(bytes, origin: origin, decision: decision, keepTunnelRecord: keep, context)
        case .terminate(let hello, let origin, _, let keep):
            cancelDeadline()
            releaseKeptHTTP()
            handOverToTLS(hello, origin: origin, keepTunnelRecord: keep, context)
        case .refuse(let reply):
            cancelDeadline()
            refuse(reply, context)
        case .armDeadline(let amount):
            let due = context.eventLoop.now + amount
            deadline = due
            arm(context, at: min(due, timerDue ?? due))
        }
    }

    /// The upstream connected: its glue is installed (not reading yet).
    func connected(_ channel: any Channel, _ context: ChannelHandlerContext) {
        upstream = channel
        let glue = UpstreamGlue(client: self)
        upstreamGlue = glue
        do {
            try channel.pipeline.syncOperations.addHandler(glue)
        } catch {
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { [weak self] _ in
            // An upstream that goes away takes the tunnel with it (unless an HTTP stream owns it).
            guard let self, !self.handedOver else { return }
            self.context?.close(promise: nil)
        }
    }

    /// Upstream bytes flow to the client from now on (server-first protocols included), and
    /// the tunnel is tracked so that a policy change can close it.
    func startUpstream(address: IPAddress, _ context: ChannelHandlerContext) {
        guard live == nil, let upstream else { return }
        let clientLoop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: clientLoop)
        let connection = LiveConnection(sandboxID: machine.sandbox.sandboxID, target: machine.target, address: address,
                                        isTunnel: true, decidedUnder: machine.sandbox.policy.version) { decision in
            clientLoop.execute {
                let handler = bound.value
                guard let context = handler.context else { return }
                handler.perform(handler.machine.policyChanged(decision), context)
            }
        }
        live = connection
        env.connections.track(connection)
        if let options = upstream.syncOptions {
            do { try options.setOption(ChannelOptions.autoRead, value: true) } catch { upstream.close(promise: nil) }
        } else {
            upstream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in upstream.close(promise: nil) }
        }
    }

    func answerEstablished(_ context: ChannelHandlerContext) {
        switch ingress {
        case .connect:
            machine.setStatus(200)
            context.writeAndFlush(wrapOutboundOut(Self.connectEstablished), promise: nil)
        case .socks5:
            machine.setStatus(Int(SOCKSReply.succeeded))
            var reply = context.channel.allocator.buffer(capacity: 22)
            SOCKSReply.write(SOCKSReply.succeeded, bound: upstream?.localAddress, into: &reply)
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        case .transparent:
            break
        }
    }

    /// The CONNECT answer, written raw; one shared copy-on-write buffer, never copied.
    static let connectEstablished = ByteBuffer(string: "HTTP/1.1 200 Connection Established\r\n\r\n")

    /// Writes the ingress's refusal (if the wire still takes one), writes the audit entry,
    /// then closes both sides.
    func refuse(_ reply: TunnelMachine.Reply?, _ context: ChannelHandlerContext) {
        var bytes: ByteBuffer?
        if let reply {
            switch ingress {
            case .connect:
                let response: ProxyResponse
                switch reply {
                case .rejected(let decision):
                    response = ProxyResponse.forbidden(decision, port: machine.target.port, sandboxID: machine.sandbox.sandboxID)
                case .failed(let failure):
                    response = failure.timedOut ? .gatewayTimeout(failure.description) : .badGateway(failure.description)
                case .refused(let rejectedBy, let reason):
                    response = .refused(host: machine.target.host.description, port: machine.target.port, rejectedBy: rejectedBy,
                                        reason: reason)
                }
                machine.setStatus(response.status)
                var buffer = context.channel.allocator.buffer(capacity: 256)
                response.serialize(into: &buffer)
                bytes = buffer
            case .socks5:
                let code: UInt8
                switch reply {
                case .rejected, .refused: code = SOCKSReply.notAllowed
                case .failed(.lookup): code = SOCKSReply.hostUnreachable
                case .failed(.dial(let e)): code = e.timedOut ? SOCKSReply.ttlExpired : SOCKSReply.connectionRefused
                }
                machine.setStatus(Int(code))
                var buffer = context.channel.allocator.buffer(capacity: 10)
                SOCKSReply.write(code, bound: nil, into: &buffer)
                bytes = buffer
            case .transparent:
                break
            }
        }
        if ingress == .transparent {
            // No reply to carry the refusal: the close says it, after the entry is written.
            finish(thenClose: context.channel)
            upstream?.close(promise: nil)
            return
        }
        finish()
        upstream?.close(promise: nil)
        if let bytes {
            context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    /// Writes the entry once, releases the bookkeeping. After a hand-over to an HTTP
    /// stream, the sandbox's connection slot is kept until the client channel closes.
    func finish(thenClose channel: (any Channel)? = nil) {
        guard !finished else {
            channel?.close(promise: nil)
            return
        }
        finished = true
        machine.closed()
        if let live {
            env.connections.untrack(live)
            self.live = nil
        }
        if countsConnection {
            let connections = env.connections, sandboxID = machine.sandbox.sandboxID
            if handedOver, let channel = context?.channel {
                channel.closeFuture.whenComplete { _ in connections.closeConnection(sandboxID: sandboxID) }
            } else {
                connections.closeConnection(sandboxID: sandboxID)
            }
        }
        if keepRecord, let channel {
            env.finish(machine.record, thenClose: channel)
        } else {
            if keepRecord { env.finish(machine.record) }
            channel?.close(promise: nil)
        }
    }
}
