import NIOCore
import PortcullisModel
import PortcullisPolicy
import PortcullisWire
import PortcullisProxy
import Synchronization

/// Counts open client connections across the listeners and refuses those over the cap,
/// clearly: HTTP gets a 503 naming the limit, SOCKS5 a "no acceptable methods" reply.
/// Each refusal is an audit event.
final class ConnectionLimiter: Sendable {
    let maximum: Int
    private let open = Atomic<Int>(0)
    private let metrics: GatewayMetrics
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    /// Remembers an accepted channel until it closes (for shutdown).
    func remember(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        channels.withLock { $0[key] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = channels.withLock { $0.removeValue(forKey: key) }
            release()
        }
    }

    /// Closes every open client channel.
    func closeAll() {
        for channel in channels.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }

    init(maximum: Int, metrics: GatewayMetrics) {
        self.maximum = maximum
        self.metrics = metrics
    }

    var count: Int { open.load(ordering: .relaxed) }

    /// Takes a slot; false (and nothing taken) when the cap is reached.
    func acquire() -> Bool {
        let n = open.wrappingAdd(1, ordering: .relaxed).newValue
        if n > maximum {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        metrics.openConnections.record(n)
        return true
    }

    func release() {
        let n = open.wrappingSubtract(1, ordering: .relaxed).newValue
        metrics.openConnections.record(n)
        if n == 0 { emptied.wakeAll() }
    }

    private let emptied = WakeList()

    /// Returns once no client connection is open, or after `limit` (a drain's bound; at once
    /// in a cancelled task): woken by the last close, not by polling. (`WakeList` keeps a
    /// cancelled drain from waiting for the last connection while a tunnel stays open.)
    func waitUntilEmpty(atMost limit: TimeAmount) async {
        await emptied.wait(until: .now.advanced(by: .nanoseconds(limit.nanoseconds))) { [self] in count == 0 }
    }
}

/// The answer of a listener at the connection cap: a 503 (HTTP), an auth failure (SOCKS5)
/// or, for the transparent listener, whose client speaks no proxy protocol, just a close.
/// Each refusal is counted and logged.
enum Refusal {
    enum Listener { case http, socks, transparent }

    static func refuse(_ channel: any Channel, listener: Listener, limit: Int, gate: GatewayGate) {
        var buffer = channel.allocator.buffer(capacity: 256)
        let via: AuditVia
        let status: Int?
        switch listener {
        case .socks:
            buffer.writeBytes([0x05, 0xFF])
            (via, status) = (AuditVia.socks5, 0xFF)
        case .http:
            ProxyResponse.serviceUnavailable("the gateway is at its limit of \(limit) open connections; retry shortly")
                .serialize(into: &buffer)
            (via, status) = (AuditVia.http, 503)
        case .transparent:
            (via, status) = (AuditVia.transparent, nil)
        }
        gate.metrics.refused.increment()
        let event = AuditEvent(time: gate.now(), tenantID: nil, sandboxID: nil,
                               client: channel.remoteAddress.auditText,
                               via: via, host: "", port: nil,
                               action: .error, rejectedBy: AuditVocabulary.connectionLimit,
                               reason: "refused: the gateway is at its limit of \(limit) open connections",
                               status: status, policyVersion: gate.registry.snapshot.version)
        guard buffer.readableBytes > 0 else {
            // Transparent: no protocol to carry a message; closed once the entry is written.
            CloseAfterWrite.close(channel) { gate.record(event, whenWritten: $0) }
            return
        }
        gate.record(event)
        channel.writeAndFlush(buffer).whenComplete { _ in channel.close(promise: nil) }
    }
}
