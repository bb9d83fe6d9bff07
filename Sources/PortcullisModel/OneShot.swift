import Synchronization

/// A value set once and awaited by anyone: waiters resume when it is set, or with nil
/// when their task is cancelled first. (Readiness and identity in `serve`: nothing polls.)
/// A second `set` replaces the value for later readers; waiters already resumed keep the first.
public final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
        var next = 0
    }
    private let state = Mutex(State())

    public init() {}

    public var current: Value? { state.withLock { $0.value } }

    public func set(_ value: Value) {
        let waiters = state.withLock { s -> [CheckedContinuation<Value?, Never>] in
            s.value = value
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume(returning: value) }
    }

    public func value() async -> Value? {
        let id = state.withLock { s -> Int in
            s.next += 1
            return s.next
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Value?, Never>) in
                let now: Value?? = state.withLock { s in
                    if let v = s.value { return .some(v) }
                    if Task.isCancelled { return .some(nil) }
                    s.waiters[id] = c
                    return .none
                }
                if case .some(let v) = now { c.resume(returning: v) }
            }
        } onCancel: {
            let w = state.withLock { $0.waiters.removeValue(forKey: id) }
            w?.resume(returning: nil)
        }
    }
}
