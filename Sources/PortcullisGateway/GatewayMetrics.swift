import Metrics
import PortcullisModel
import PortcullisPolicy

/// The data plane's swift-metrics instruments (the Prometheus exporter is wired elsewhere).
/// One counter per (via, action), created up front: counting an attempt takes no lock.
final class GatewayMetrics: Sendable {
    /// Indexed by `AuditVia` then `AuditAction`, in their declaration order.
    private let connections: [[Counter]] = AuditVia.allCases.map { via in
        AuditAction.allCases.map { action in
            Counter(label: "portcullis_connections_total", dimensions: [("via", via.rawValue), ("action", action.rawValue)])
        }
    }
    let activeTunnels = Gauge(label: "portcullis_active_tunnels")
    let openConnections = Gauge(label: "portcullis_open_connections")
    let bytesUp = Counter(label: "portcullis_bytes_total", dimensions: [("direction", "up")])
    let bytesDown = Counter(label: "portcullis_bytes_total", dimensions: [("direction", "down")])
    let decisionLatency = Metrics.Timer(label: "portcullis_decision_duration")
    let refused = Counter(label: "portcullis_connections_refused_total")

    /// The cases in declaration order, read once (`allCases` builds a new array at each use).
    private static let vias = AuditVia.allCases
    private static let actions = AuditAction.allCases

    func connection(via: AuditVia, action: AuditAction) -> Counter {
        connections[Self.vias.firstIndex(of: via)!][Self.actions.firstIndex(of: action)!]
    }

    func record(_ event: AuditEvent) {
        connection(via: event.via, action: event.action).increment()
        if event.bytesUp > 0 { bytesUp.increment(by: event.bytesUp) }
        if event.bytesDown > 0 { bytesDown.increment(by: event.bytesDown) }
    }
}
