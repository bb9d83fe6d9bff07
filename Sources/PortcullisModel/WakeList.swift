import Synchronization

/// Waits woken together (`wakeAll()`) or given up at a deadline, with nothing polling.
///
/// Each wait is a task group of two children, one registering a continuation and one
/// sleeping until the deadline. Their order is the scheduler's: when the sleeper ends first
/// (at once in a cancelled task) and the parent cleans up before the other child has
/// registered, that child would wait for the next `wakeAll()` — for ever if none comes, and
/// the group with it. So every wait has a slot: pending until its child registers, and
/// marked abandoned by a cleanup that finds it pending, in which case the child does not wait.
public final class WakeList: Sendable {
    private enum Slot {
        case pending
        case waiting(CheckedContinuation<Void, Never>)
        case abandoned
    }

    private struct State {
        var next = 0
        var slots: [Int: Slot] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// Wakes every registered wait. Call it after changing what their `ready` reads.
    public func wakeAll() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            var woken: [CheckedContinuation<Void, Never>] = []
            for (id, slot) in s.slots {
                switch slot {
                case .waiting(let c):
                    woken.append(c)
                    s.slots[id] = nil
                case .pending, .abandoned:
                    break
                }
            }
            return woken
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns at the first `wakeAll()` after it registered, at once when `ready()` holds as
    /// it registers (checked under the list's lock, so a change made before a `wakeAll()` is
    /// never missed), or at `deadline` — at once when the task is cancelled.
    public func wait(until deadline: ContinuousClock.Instant, unlessReady ready: @escaping @Sendable () -> Bool) async {
        let id = state.withLock { s -> Int in
            s.next += 1
            s.slots[s.next] = .pending
            return s.next
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now = self.state.withLock { s -> Bool in
                        switch s.slots[id] {
                        case .pending?:
                            if ready() { break }
                            s.slots[id] = .waiting(c)
                            return false
                        case .abandoned?, .waiting?, nil:
                            break
                        }
                        s.slots[id] = nil
                        return true
                    }
                    if now { c.resume() }
                }
            }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
            let left = self.state.withLock { s -> CheckedContinuation<Void, Never>? in
                switch s.slots[id] {
                case .waiting(let c)?:
                    s.slots[id] = nil
                    return c
                case .pending?:
                    s.slots[id] = .abandoned
                    return nil
                case .abandoned?, nil:
                    return nil
                }
            }
            left?.resume()
        }
    }
}
