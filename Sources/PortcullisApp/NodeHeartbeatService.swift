import Logging
import PortcullisControl
import PortcullisModel
import ServiceLifecycle

/// Registers this node and heartbeats every 2 s (FLEET.md, "Nodes"): its addresses,
/// version, start time, applied policy version and state. Between heartbeats it records
/// each newly applied version at once, so `?wait=fleet` answers as soon as the fleet has it.
struct NodeHeartbeatService: Service {
    let store: any Store
    let node: @Sendable () -> NodeRecord
    let status: FleetStatus
    /// Versions as the control plane applies them.
    let applied: AsyncStream<UInt64>
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await heartbeat() }
                group.addTask { await recordApplied() }
            }
        }
    }

    private func heartbeat() async {
        var failing = false
        while !Task.isCancelled {
            do {
                var record = node()
                record.appliedPolicyVersion = status.applied
                record.reportedState = status.reportedState
                try await store.saveNode(record)
                status.newest(try await store.policyVersion())
                if failing { logger.info("heartbeat written again") }
                failing = false
            } catch {
                if Task.isCancelled { return }
                if !failing { logger.warning("heartbeat failed", metadata: ["error": "\(error)"]) }
                failing = true
                status.syncError()
            }
            do { try await Task.sleep(for: .milliseconds(NodeRecord.heartbeatMilliseconds)) } catch { return }
        }
    }

    private func recordApplied() async {
        let id = node().id
        for await version in applied {
            status.recordApplied(version)
            do { try await store.recordApplied(nodeID: id, version: version) } catch {
                // The next heartbeat carries it.
                status.syncError()
            }
        }
    }
}
