import NIOCore
import PortcullisModel
import PortcullisPolicy
import PortcullisWire

/// The audit event of one attempt (a connection, or one HTTP request), filled as it goes
/// and written exactly once when it ends. Bound to one event loop.
final class AttemptRecord {
    var event: AuditEvent
    let started: NIODeadline
    let gate: any EgressGate
    private(set) var finished = false
    var live: LiveConnection?
    var countedSandbox: String?

    init(gate: any EgressGate, client: String, via: String) {
        self.gate = gate
        self.started = .now()
        self.event = AuditEvent(time: gate.now(), tenantID: nil, sandboxID: nil, client: client, via: via, host: "",
                                port: nil, action: "error", reason: "", policyVersion: 0)
    }

    /// Takes the decision's fields (action, rule, reason, host, method, path, version).
    func apply(_ decision: Decision, target: Target, sandbox: SandboxContext?) {
        let fresh = AuditEvent(decision: decision, target: target, time: event.time, tenantID: sandbox?.tenantID,
                               sandboxID: sandbox?.sandboxID, client: event.client, via: event.via,
                               sni: event.sni, address: event.address)
        let bytesUp = event.bytesUp, bytesDown = event.bytesDown
        event = fresh
        event.bytesUp = bytesUp
        event.bytesDown = bytesDown
    }

    /// An outcome that is not a decision of the engine (bad input, auth failure, lookup failure).
    func failure(action: String, rejectedBy: String?, reason: String, status: Int?) {
        event.action = action
        event.rejectedBy = rejectedBy
        event.reason = reason
        event.joinsPending = false
        if let status { event.status = status }
    }

    func finish() {
        guard !finished else { return }
        finished = true
        event.durationMs = (NIODeadline.now() - started).nanoseconds / 1_000_000
        if let live {
            gate.untrack(live)
            self.live = nil
        }
        if let sandbox = countedSandbox {
            gate.closeConnection(sandboxID: sandbox)
            countedSandbox = nil
        }
        gate.record(event)
    }
}

extension SocketAddress {
    /// `ip:port` (IPv6 in brackets) for the audit log's `client` field.
    var auditText: String {
        switch self {
        case .v4: return "\(ipAddress ?? "?"):\(port ?? 0)"
        case .v6: return "[\(ipAddress ?? "?")]:\(port ?? 0)"
        case .unixDomainSocket: return "unix"
        }
    }
}

extension Optional where Wrapped == SocketAddress {
    var auditText: String { self?.auditText ?? "unknown" }
}
