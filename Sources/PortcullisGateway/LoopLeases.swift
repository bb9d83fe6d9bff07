import Synchronization

/// Who is using the shared event loops from outside them (a listener binding or closing),
/// so that they are not shut down under it. NIO drops a task scheduled on a loop that has
/// shut down (it only prints "Cannot schedule tasks on an EventLoop that has already shut
/// down"), so a bind or a close awaited on such a loop never completes: a listener service
/// still binding when a failed sibling cancelled the group, and the resources' service
/// shutting the loops down meanwhile, hung the whole group.
///
/// `take()` succeeds only while the loops are open; `closeAndWait()` refuses new leases and
/// returns once the ones taken are given back. The waiter registers under the same lock
/// the last `give()` checks, so it cannot miss its resume.
final class LoopLeases: Sendable {
    private struct State {
        var open = false
        var held = 0
        var idle: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    /// The loops are open: leases may be taken.
    func open() { state.withLock { $0.open = true } }

    /// A lease on the loops, or false once they are being released (do not touch them).
    func take() -> Bool {
        state.withLock { s in
            guard s.open else { return false }
            s.held += 1
            return true
        }
    }

    /// Gives back a lease `take()` granted.
    func give() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.held -= 1
            guard s.held == 0 else { return [] }
            defer { s.idle = [] }
            return s.idle
        }
        for waiter in woken { waiter.resume() }
    }

    /// Refuses new leases and returns once every lease taken has been given back.
    func closeAndWait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                s.open = false
                if s.held == 0 { return true }
                s.idle.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}
