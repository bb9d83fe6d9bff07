import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// Hand-overs to HTTP inspection (TLS termination is in TLSTermination.swift) and the one
/// timer of a tunnel.
extension TunnelHandler {
    // MARK: - Hand-overs (HTTP inspection, TLS termination)

    var via: AuditVia {
        switch ingress {
        case .connect: return .connect
        case .socks5: return .socks5
        case .transparent: return .transparent
        }
    }

    /// From now on the connection belongs to what replaces this handler; `keepingRecord`:
    /// whether this handler still writes the tunnel's line.
    func handOver(keepingRecord: Bool) {
        handedOver = true
        keepRecord = keepingRecord
    }

    /// Releases the tunnel's bookkeeping (the sandbox's slot follows the client channel).
    func finishHandOver() { finish() }

    /// A CONNECT's HTTP handlers behind this one leave: the tunnel is not an HTTP stream.
    func releaseKeptHTTP() {
        guard let kept = keptHTTP else { return }
        keptHTTP = nil
        kept.leaveForTunnel()
    }

    func takeUpstreamGlue() -> UpstreamGlue? {
        defer { upstreamGlue = nil }
        return upstreamGlue
    }

    // MARK: - HTTP inspection

    /// Turns the tunnel into an HTTP stream: both channels get HTTP codecs, the stream
    /// handler takes the upstream, and the held bytes go to the new decoder.
    func handOverToHTTP(_ bytes: ByteBuffer, origin: Target, decision: Decision, keepTunnelRecord: Bool,
                                _ context: ChannelHandlerContext) {
        guard let upstream, let address = machine.address else {
            refuse(nil, context)
            return
        }
        // The tunnel's line (CONNECT, SOCKS5) is the stream's to write when it closes.
        handOver(keepingRecord: false)
        let tunnelRecord = keepTunnelRecord ? machine.record : nil
        do {
            if let glue = upstreamGlue { upstream.pipeline.syncOperations.removeHandler(glue, promise: nil) }
            upstreamGlue = nil
            let binding = HTTPStreamHandler.Origin(host: origin.host, port: origin.port ?? 80, address: address,
                                                   sandbox: machine.sandbox, via: via, upstream: try FixedUpstream(channel: upstream))
            if let kept = keptHTTP {
                keptHTTP = nil
                try kept.resumeInTunnel(binding, tunnelRecord: tunnelRecord)
            } else {
                try HTTPStreamHandler.installFixed(on: context.channel, origin: binding, env: env, tunnelRecord: tunnelRecord,
                                                   after: context)
            }
            // Responses flow from now on (the stream tracks itself for policy changes).
            if let options = upstream.syncOptions { try options.setOption(ChannelOptions.autoRead, value: true) }
            finish()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            if bytes.readableBytes > 0 { context.channel.pipeline.fireChannelRead(NIOAny(bytes)) }
            context.channel.pipeline.fireChannelReadComplete()
            if inputClosed { context.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
            context.channel.read()
        } catch {
            keepRecord = true
            machine.fail("could not switch the tunnel to HTTP inspection: \(error)")
            refuse(nil, context)
        }
    }

    // MARK: - The one timer: first-bytes deadline and idle timeout


    func cancelDeadline() {
        deadline = nil
        guard let context, let idle = env.settings.tunnelIdleTimeout else {
            timer?.cancel()
            timer = nil
            timerDue = nil
            return
        }
        if timer == nil { arm(context, at: lastActivity + idle) }
    }

    func arm(_ context: ChannelHandlerContext, at due: NIODeadline) {
        timer?.cancel()
        timerDue = due
        // The handler is the callback's handler: no promise, future or closure per schedule.
        timer = try? context.eventLoop.assumeIsolated().scheduleCallback(at: due, handler: self)
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        guard let context else {
            timer = nil
            timerDue = nil
            return
        }
        timerFired(context)
    }

    func timerFired(_ context: ChannelHandlerContext) {
        timer = nil
        timerDue = nil
        guard self.context != nil, !handedOver else { return }
        let now = context.eventLoop.now
        if let due = deadline, now >= due {
            deadline = nil
            perform(machine.deadlineFired(), context)
            if machine.isClosed { return }
        }
        if let idle = env.settings.tunnelIdleTimeout, now >= lastActivity + idle {
            context.close(promise: nil)
            return
        }
        var next: NIODeadline? = env.settings.tunnelIdleTimeout.map { lastActivity + $0 }
        if let due = deadline { next = next.map { min($0, due) } ?? due }
        if let next { arm(context, at: next) }
    }
}
