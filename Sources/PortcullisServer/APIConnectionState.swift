import NIOCore

/// The timeouts of one API connection, as a plain state machine: events in (with the time
/// they happen), actions out; `APIConnectionGuard` performs them.
///
/// - A new connection must start its first request within `headTimeout` (a silent one
///   holds a place of the listener's cap for nothing).
/// - No request in flight: the connection may stay idle for `idleTimeout`; once a byte of
///   a new request arrives, its head must be complete within `headTimeout` (else 408).
/// - A request whose body is still arriving: `idleTimeout` without a byte closes it, and
///   the whole body must have arrived within `idleTimeout` of its head (a body trickled a
///   byte at a time is not kept open for ever).
/// - A request fully read and being answered (a large page, an audit stream): no timer.
/// Heads of pipelined requests count as in flight until their answers end.
struct APIConnectionState {
    enum Action: Equatable {
        case none
        /// Make sure a timer fires at (or before) this deadline.
        case schedule(NIODeadline)
        case cancel
        /// Close the connection, first answering 408 when a request head was cut short.
        case close(requestTimeout: Bool)
    }

    let headTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// Request heads seen whose answers have not ended.
    private(set) var inFlight = 0
    /// The newest request's body is still arriving.
    private(set) var readingBody = false
    /// Bytes of a new request head have arrived while nothing was in flight.
    private(set) var headStarted = false
    private(set) var deadline: NIODeadline?
    /// When the body being read must be complete.
    private(set) var bodyDue: NIODeadline?

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
    }

    mutating func opened(at now: NIODeadline) -> Action {
        let first = now + min(headTimeout, idleTimeout)
        deadline = first
        return .schedule(first)
    }

    mutating func bytesArrived(at now: NIODeadline) -> Action {
        if inFlight == 0 {
            guard !headStarted else { return .none }
            headStarted = true
            deadline = now + headTimeout
            return .schedule(now + headTimeout)
        }
        guard readingBody else { return .none }
        let next = min(now + idleTimeout, bodyDue ?? now + idleTimeout)
        deadline = next
        return .schedule(next)
    }

    mutating func headArrived(at now: NIODeadline) -> Action {
        inFlight += 1
        readingBody = true
        headStarted = false
        bodyDue = now + idleTimeout
        deadline = now + idleTimeout
        return .schedule(now + idleTimeout)
    }

    mutating func requestEnded(at now: NIODeadline) -> Action {
        readingBody = false
        bodyDue = nil
        deadline = nil
        return .cancel
    }

    mutating func responseEnded(at now: NIODeadline) -> Action {
        inFlight = max(0, inFlight - 1)
        guard inFlight == 0 else { return .none }
        headStarted = false
        deadline = now + idleTimeout
        return .schedule(now + idleTimeout)
    }

    /// The timer fired: close if the deadline has passed, else wait for the (moved) deadline.
    mutating func timerFired(at now: NIODeadline) -> Action {
        guard let deadline else { return .none }
        guard now >= deadline else { return .schedule(deadline) }
        self.deadline = nil
        return .close(requestTimeout: inFlight == 0 && headStarted)
    }
}
