import NIOCore
import NIOHTTP1
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// How a stream ends: errors, the client leaving, and the gateway closing it — each ends an
/// exchange still in flight with its entry written, once.
extension HTTPStreamHandler {
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Anything but a parse error (I/O, TLS) ends the connection quietly.
        guard error is HTTPParserError else {
            return closeNow(context)
        }
        // A parse error from the decoder: the requests queued before it are answered first,
        // then 400 once, then close.
        switch state {
        case .idle, .discarding:
            if inbound.isEmpty, case .idle = state {
                badRequest("malformed HTTP request", closeNow: true, context)
            } else {
                failedAfterQueue = true
            }
        case .connecting, .forwarding:
            failedAfterQueue = true
        case .tunnelling, .behindTunnel, .closed:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        switch previous {
        case .connecting(let exchange), .forwarding(let exchange):
            abandon(exchange, because: "the client closed before the response ended")
        case .tunnelling:
            // A CONNECT whose request never ended: its slot and its line.
            if let machine = pendingConnect?.machine {
                pendingConnect = nil
                env.connections.closeConnection(sandboxID: machine.sandbox.sandboxID)
                var record = machine.record
                record.refuse(.error, AuditVocabulary.badRequest, reason: "the client closed before the CONNECT request ended")
                env.finish(record)
            }
        case .idle, .discarding, .behindTunnel, .closed:
            break
        }
        dropIdleUpstream()
        if let streamLive {
            env.connections.untrack(streamLive)
            self.streamLive = nil
        }
        if var record = tunnelRecord {
            tunnelRecord = nil
            // Up: every byte the client sent (heads included); down: what the responses carried.
            record.bytesUp += headGuard?.bytesSeen ?? 0
            env.finish(record)
        }
        if case .origin(let origin) = mode, !isHTTP2Stream { origin.upstream.close() }
        context.fireChannelInactive()
    }

    /// Closes the client connection. An exchange still in flight (a timeout, an I/O error,
    /// a policy change) is ended here and its entry written: `channelInactive` comes after
    /// the state is already closed, so nothing sent upstream goes unlogged.
    func closeNow(_ context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        if case .connecting(let exchange) = previous {
            abandon(exchange, because: "the connection closed before the response ended")
        } else if case .forwarding(let exchange) = previous {
            abandon(exchange, because: "the connection closed before the response ended")
        }
        context.close(promise: nil)
    }

    /// Ends an exchange the response of which will not be completed: its upstream closed,
    /// its entry written once (cut, when anything was allowed to go out).
    func abandon(_ exchange: Exchange, because cause: String) {
        guard !exchange.finished else { return }
        if exchange.responseStarted || exchange.record.allowed {
            exchange.record.closeCause = exchange.record.closeCause ?? .cut(cause)
        }
        // The entry first: closing the upstream calls back into this handler at once.
        finish(exchange)
        exchange.upstreamChannel?.close(promise: nil)
    }

    /// Nothing crossed the connection either way for the exchange idle timeout while a
    /// request was answered (`HeadGuard`): a 504 when no response had started, else the
    /// response is cut; the entry says so, and the connection closes.
    func exchangeWentIdle(_ context: ChannelHandlerContext) {
        let exchange: Exchange
        switch state {
        case .connecting(let e), .forwarding(let e): exchange = e
        case .idle, .discarding, .tunnelling, .behindTunnel, .closed: return
        }
        let seconds = (env.settings.tunnelIdleTimeout?.nanoseconds ?? 0) / 1_000_000_000
        if exchange.responseStarted {
            exchange.record.closeCause = .cut("no bytes either way for \(seconds) s")
            finish(exchange)
            exchange.upstreamChannel?.close(promise: nil)
            closeNow(context)
        } else {
            failed(exchange, status: 504, message: "the upstream sent no response and nothing moved for \(seconds) s", context)
        }
    }
}
