import Logging
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy
import Synchronization

/// Holds the current `GatewaySnapshot` and the live connections it governs.
///
/// `update(_:)` swaps the snapshot atomically: connections opened afterwards see it at
/// once; live tunnels and keep-alive connections whose target the new policy rejects
/// are closed there and then (each close hops to its own event loop) and logged.
public final class PolicyRegistry: Sendable {
    private struct Current {
        var snapshot: GatewaySnapshot
        /// Per sandbox with credentials: its scrubbing patterns, computed at each update
        /// (reused when its credentials did not change), swapped with the snapshot.
        var plans: [String: ScrubPlan]
    }
    private let current: Mutex<Current>
    private struct Live {
        var connections: [ObjectIdentifier: LiveConnection] = [:]
        var tunnels = 0
    }
    private let live = Mutex(Live())
    private let updates = Atomic<UInt64>(0)
    private let logger: Logger

    public init(_ snapshot: GatewaySnapshot = .empty, logger: Logger = Logger(label: "portcullis.policy")) {
        self.current = Mutex(Current(snapshot: snapshot, plans: Self.plans(for: snapshot, reusing: [:])))
        self.logger = logger
    }

    /// Counts the updates: a connection's identity and decisions read at one value hold
    /// while it stays (it moves after the new snapshot is in, before any live connection is
    /// re-checked).
    public var generation: UInt64 { updates.load(ordering: .sequentiallyConsistent) }

    /// The snapshot in force (read once per connection).
    public var snapshot: GatewaySnapshot { current.withLock { $0.snapshot } }

    /// The snapshot and its sandboxes' scrubbing plans, read together (one lock).
    public var snapshotAndPlans: (snapshot: GatewaySnapshot, plans: [String: ScrubPlan]) {
        current.withLock { ($0.snapshot, $0.plans) }
    }

    /// The scrubbing plan of every sandbox with credentials, reusing `old`'s where the
    /// credentials are unchanged (once per policy change, never per request).
    static func plans(for snapshot: GatewaySnapshot, reusing old: [String: ScrubPlan]) -> [String: ScrubPlan] {
        var plans: [String: ScrubPlan] = [:]
        for (id, sandbox) in snapshot.sandboxes where !sandbox.credentials.isEmpty {
            if let kept = old[id], kept.bindings == sandbox.credentials {
                plans[id] = kept
            } else {
                plans[id] = ScrubPlan(sandbox.credentials)
            }
        }
        return plans
    }

    /// Swaps in a new snapshot and closes the live connections it rejects. Returns how many
    /// were closed.
    @discardableResult
    public func update(_ snapshot: GatewaySnapshot) -> Int {
        let plans = Self.plans(for: snapshot, reusing: current.withLock { $0.plans })
        current.withLock { $0 = Current(snapshot: snapshot, plans: plans) }
        updates.add(1, ordering: .sequentiallyConsistent)
        let connections = live.withLock { Array($0.connections.values) }
        var closed = 0
        for connection in connections where closeIfRejected(connection, under: snapshot) { closed += 1 }
        return closed
    }

    /// The decision `snapshot` takes on a live connection (a sandbox that is gone keeps nothing).
    static func decision(on connection: LiveConnection, under snapshot: GatewaySnapshot) -> Decision {
        if let sandbox = snapshot.sandboxes[connection.sandboxID] {
            return connection.decision(under: sandbox.policy)
        }
        return CompiledPolicy(mode: .isolated, rules: [], version: snapshot.version).decide(connection.target)
    }

    /// Closes `connection` (and stops tracking it) when `snapshot` rejects it; true if it did.
    /// Only the caller that removes it from the live set closes it, so a connection checked by
    /// `update` and `track` at once is closed (and logged) once.
    private func closeIfRejected(_ connection: LiveConnection, under snapshot: GatewaySnapshot) -> Bool {
        let decision = PolicyRegistry.decision(on: connection, under: snapshot)
        guard decision.verdict == .reject else { return false }
        let removed = live.withLock { l in
            guard l.connections.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return false }
            if connection.isTunnel { l.tunnels -= 1 }
            return true
        }
        guard removed else { return false }
        logger.notice("closing a live connection that the new policy rejects", metadata: [
            "sandbox_id": "\(connection.sandboxID)", "host": "\(connection.target.host)",
            "port": "\(connection.target.port ?? 0)", "policy_version": "\(snapshot.version)",
            "rejected_by": "\(decision.rejectedBy ?? "")",
        ])
        connection.close(because: decision)
        return true
    }

    /// Starts tracking a connection; returns the number of tracked tunnels afterwards.
    ///
    /// A connection is decided before it is tracked (a dial may lie in between): when the
    /// policy it was decided under is no longer the sandbox's, it is re-decided here, so a
    /// change that `update` scanned for before the connection was in the set still closes it.
    @discardableResult
    func track(_ connection: LiveConnection) -> Int {
        let tunnels = live.withLock { l in
            if l.connections.updateValue(connection, forKey: ObjectIdentifier(connection)) == nil, connection.isTunnel {
                l.tunnels += 1
            }
            return l.tunnels
        }
        // The version compared under the lock; the snapshot is copied out only when it moved on.
        let moved = current.withLock { $0.snapshot.sandboxes[connection.sandboxID]?.policy.version != connection.decidedUnder }
        if moved, closeIfRejected(connection, under: snapshot) {
            return tunnelCount
        }
        return tunnels
    }

    @discardableResult
    func untrack(_ connection: LiveConnection) -> Int {
        live.withLock { l in
            if l.connections.removeValue(forKey: ObjectIdentifier(connection)) != nil, connection.isTunnel {
                l.tunnels -= 1
            }
            return l.tunnels
        }
    }

    /// How many connections are tracked (tunnels and kept upstreams).
    public var liveCount: Int { live.withLock { $0.connections.count } }
    /// How many tunnels are open.
    public var tunnelCount: Int { live.withLock { $0.tunnels } }
}
