import PortcullisModel
import PortcullisPolicy

/// A node as `GET /api/v1/nodes` shows it.
public struct NodeView: Hashable, Sendable {
    public let record: NodeRecord
    public let state: NodeRecord.State
    /// The newest policy version minus the one the node applied (never negative).
    public let lag: UInt64
}

extension ControlPlane {
    /// How long `?wait=fleet` waits before answering 202 with the nodes still lagging.
    public static let fleetWaitLimit: Duration = .seconds(5)

    /// `GET /api/v1/nodes` (admin).
    public func listNodes(_ caller: Caller) async throws -> (nodes: [NodeView], policyVersion: UInt64) {
        try requireAdmin(caller)
        let listing = try await store.nodes()
        let views = listing.nodes.map { n in
            NodeView(record: n, state: n.state(at: listing.now),
                     lag: listing.newestPolicyVersion > n.appliedPolicyVersion ? listing.newestPolicyVersion - n.appliedPolicyVersion : 0)
        }
        return (views, listing.newestPolicyVersion)
    }

    /// Waits until every node that is not `down` reports `version` applied, for at most
    /// `limit`; returns the ids of those that had not (empty: the whole fleet has it).
    public nonisolated func waitForFleet(version: UInt64, limit: Duration = ControlPlane.fleetWaitLimit) async throws -> [String] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        while true {
            let listing = try await store.nodes()
            let lagging = listing.nodes.filter { $0.state(at: listing.now) != .down && $0.appliedPolicyVersion < version }.map(\.id)
            if lagging.isEmpty || clock.now >= deadline { return lagging }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
