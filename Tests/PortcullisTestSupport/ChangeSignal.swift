import Synchronization

/// Something tests wait on without polling: whoever changes the watched state calls
/// `notify()`, and `wait(until:)` re-checks its condition at each change, returning as
/// soon as it holds (or false once the time is up).
public final class ChangeSignal: Sendable {
    private struct State {
        var next = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var version: UInt64 = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// Wakes every waiter to re-check its condition.
    public func notify() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.version &+= 1
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns true once `condition` holds (checked now and after each `notify()`), false
    /// when `timeout` passes first.
    public func wait(timeout: Duration = .seconds(5), until condition: () -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            let seen = state.withLock { $0.version }
            if condition() { return true }
            guard clock.now < deadline else { return false }
            await change(after: seen, deadline: deadline)
        }
    }

    /// Returns at the first `notify()` after version `seen` (at once if one came already),
    /// or at the deadline.
    private func change(after seen: UInt64, deadline: ContinuousClock.Instant) async {
        let id = state.withLock { s -> Int in s.next += 1; return s.next }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now = self.state.withLock { s -> Bool in
                        if s.version != seen { return true }
                        s.waiters[id] = c
                        return false
                    }
                    if now { c.resume() }
                }
            }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
            // The time ran out first: resume our waiter so the group can finish.
            if let left = self.state.withLock({ $0.waiters.removeValue(forKey: id) }) { left.resume() }
        }
    }
}
