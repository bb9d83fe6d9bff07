import Foundation
import Logging
import PortcullisControl
import PortcullisModel
import PortcullisPolicy
import ServiceLifecycle
import Synchronization

/// The node's place in the fleet, once its listeners are bound (the default node id
/// needs the API's port): policy sync, registration and heartbeat, and the live tail of
/// the other nodes' audit events, run together until shutdown.
struct FleetServices: Service {
    let identity: OneShot<NodeRecord>
    let sync: PolicySyncService
    let store: any Store
    let status: FleetStatus
    let applied: AsyncStream<UInt64>
    let tail: AuditTailService?
    let logger: Logger

    func run() async throws {
        // Sync starts at once; the node registers once the announcer knows its addresses.
        try await cancelWhenGracefulShutdown { try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await sync.run() }
            group.addTask {
                guard let node = await identity.value() else { return }
                let heartbeat = NodeHeartbeatService(store: store, node: { node }, status: status, applied: applied, logger: logger)
                try await heartbeat.run()
            }
            if let tail { group.addTask { try await tail.run() } }
        } }
    }
}

/// How a node names itself and what it advertises.
enum NodeIdentity {
    /// The software version nodes report.
    static let softwareVersion = "0.1.0"

    static func record(config: ServeConfiguration, ready: ReadyAddresses, startedAt: Timestamp) -> NodeRecord {
        let hostname = ProcessInfo.processInfo.hostName
        let id = config.nodeID ?? "\(hostname):\(ready.api.port)"
        func advertised(_ bound: HostAndPort) -> String {
            guard let host = config.advertise else { return bound.description }
            return HostAndPort(host: host, port: bound.port).description
        }
        return NodeRecord(id: id, apiAddress: advertised(ready.api), proxyAddress: advertised(ready.proxy),
                          softwareVersion: softwareVersion, startedAt: startedAt, heartbeatAt: startedAt,
                          appliedPolicyVersion: 0, reportedState: .syncing)
    }
}
