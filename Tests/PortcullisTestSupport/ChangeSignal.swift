import PortcullisModel
import Synchronization

/// Something tests wait on without polling: whoever changes the watched state calls
/// `notify()`, and `wait(until:)` re-checks its condition at each change, returning as
/// soon as it holds (or false once the time is up).
public final class ChangeSignal: Sendable {
    private let version = Atomic<UInt64>(0)
    private let waits = WakeList()

    public init() {}

    /// Wakes every waiter to re-check its condition.
    public func notify() {
        version.wrappingAdd(1, ordering: .sequentiallyConsistent)
        waits.wakeAll()
    }

    /// Returns true once `condition` holds (checked now and after each `notify()`), false
    /// when `timeout` passes first or the task is cancelled.
    public func wait(timeout: Duration = .seconds(5), until condition: () -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            let seen = version.load(ordering: .sequentiallyConsistent)
            if condition() { return true }
            guard clock.now < deadline, !Task.isCancelled else { return false }
            // At the first `notify()` after `seen` (at once if one came already), or at the
            // deadline. (`WakeList`: a notify that came just before the deadline no longer
            // leaves the wait registered after its cleanup, waiting for ever.)
            await waits.wait(until: deadline) { [self] in version.load(ordering: .sequentiallyConsistent) != seen }
        }
    }
}
