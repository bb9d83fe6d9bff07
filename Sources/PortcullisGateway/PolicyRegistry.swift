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
    private let current: Mutex<GatewaySnapshot>
    private struct Live {
        var connections: [ObjectIdentifier: LiveConnection] = [:]
        var tunnels = 0
    }
    private let live = Mutex(Live())
    private let logger: Logger

    public init(_ snapshot: GatewaySnapshot = .empty, logger: Logger = Logger(label: "portcullis.policy")) {
        self.current = Mutex(snapshot)
        self.logger = logger
    }

    /// The snapshot in force (read once per connection).
    public var snapshot: GatewaySnapshot { current.withLock { $0 } }

    /// Swaps in a new snapshot and closes the live connections it rejects. Returns how many
    /// were closed.
    @discardableResult
    public func update(_ snapshot: GatewaySnapshot) -> Int {
        current.withLock { $0 = snapshot }
        let connections = live.withLock { Array($0.connections.values) }
        var closed = 0
        for connection in connections {
            let decision: Decision
            if let sandbox = snapshot.sandboxes[connection.sandboxID] {
                decision = connection.decision(under: sandbox.policy)
            } else {
                // The sandbox is gone: nothing of it may stay connected.
                decision = CompiledPolicy(mode: .isolated, rules: [], version: snapshot.version).decide(connection.target)
            }
            guard decision.verdict == .reject else { continue }
            closed += 1
            logger.notice("closing a live connection that the new policy rejects", metadata: [
                "sandbox_id": "\(connection.sandboxID)", "host": "\(connection.target.host)",
                "port": "\(connection.target.port ?? 0)", "policy_version": "\(snapshot.version)",
                "rejected_by": "\(decision.rejectedBy ?? "")",
            ])
            untrack(connection)
            connection.close(because: decision)
        }
        return closed
    }

    /// Returns the number of tracked tunnels afterwards.
    @discardableResult
    func track(_ connection: LiveConnection) -> Int {
        live.withLock { l in
            if l.connections.updateValue(connection, forKey: ObjectIdentifier(connection)) == nil, connection.isTunnel {
                l.tunnels += 1
            }
            return l.tunnels
        }
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
