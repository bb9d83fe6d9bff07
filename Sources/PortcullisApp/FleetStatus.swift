import Metrics
import PortcullisModel
import Synchronization

/// What this node knows about its own synchronisation, shared by the sync, heartbeat and
/// metrics code: whether its doorbell is connected, whether the last catch-up worked, and
/// the policy version it applied.
final class FleetStatus: Sendable {
    private struct State {
        var listening: Bool
        var lastCatchUpFailed = false
        var applied: UInt64 = 0
        var newest: UInt64 = 0
    }

    private let state: Mutex<State>
    private let appliedGauge = Gauge(label: "portcullis_policy_applied_version")
    private let lagGauge = Gauge(label: "portcullis_policy_lag")
    private let syncingGauge = Gauge(label: "portcullis_fleet_syncing")
    private let syncErrors = Counter(label: "portcullis_fleet_sync_errors_total")

    /// `listens`: whether this node has a doorbell at all (PostgreSQL); without one it is
    /// never `syncing` for want of it.
    init(listens: Bool) { state = Mutex(State(listening: !listens)) }

    var reportedState: NodeRecord.State {
        state.withLock { $0.listening && !$0.lastCatchUpFailed ? .up : .syncing }
    }

    var applied: UInt64 { state.withLock { $0.applied } }

    func setListening(_ listening: Bool) {
        state.withLock { $0.listening = listening }
        publish()
    }

    func caughtUp(_ ok: Bool) {
        state.withLock { $0.lastCatchUpFailed = !ok }
        if !ok { syncErrors.increment() }
        publish()
    }

    func syncError() { syncErrors.increment() }

    func recordApplied(_ version: UInt64) {
        state.withLock { s in
            s.applied = max(s.applied, version)
            s.newest = max(s.newest, s.applied)
        }
        publish()
    }

    func newest(_ version: UInt64) {
        state.withLock { $0.newest = max($0.newest, version) }
        publish()
    }

    private func publish() {
        let s = state.withLock { $0 }
        appliedGauge.record(Int64(clamping: s.applied))
        lagGauge.record(Int64(clamping: s.newest >= s.applied ? s.newest - s.applied : 0))
        syncingGauge.record(s.listening && !s.lastCatchUpFailed ? 0 : 1)
    }
}
