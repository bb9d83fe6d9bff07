import Metrics
import PortcullisModel
import Synchronization

/// The data plane's swift-metrics instruments (the Prometheus exporter is wired elsewhere).
/// Counters per (via, action) are created once and cached.
final class GatewayMetrics: Sendable {
    private let connections = Mutex<[String: Counter]>([:])
    let activeTunnels = Gauge(label: "portcullis_active_tunnels")
    let openConnections = Gauge(label: "portcullis_open_connections")
    let bytesUp = Counter(label: "portcullis_bytes_total", dimensions: [("direction", "up")])
    let bytesDown = Counter(label: "portcullis_bytes_total", dimensions: [("direction", "down")])
    let decisionLatency = Metrics.Timer(label: "portcullis_decision_duration")
    let refused = Counter(label: "portcullis_connections_refused_total")

    func connection(via: String, action: String) -> Counter {
        let key = via + "|" + action
        return connections.withLock { cache in
            if let c = cache[key] { return c }
            let c = Counter(label: "portcullis_connections_total", dimensions: [("via", via), ("action", action)])
            cache[key] = c
            return c
        }
    }

    func record(_ event: AuditEvent) {
        connection(via: event.via, action: event.action).increment()
        if event.bytesUp > 0 { bytesUp.increment(by: event.bytesUp) }
        if event.bytesDown > 0 { bytesDown.increment(by: event.bytesDown) }
    }
}
