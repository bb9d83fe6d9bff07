import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// How a tunnel ends before or while it relays: deadlines, the client's half-close, policy
/// changes, refusals (the record is final when `close` returns).
extension TunnelMachine {
    // MARK: - Deadlines, half-close, policy changes

    /// The one deadline fired.
    mutating func deadlineFired() -> Action {
        switch state {
        case .waitingForClaim:
            if held == nil, let decision {
                return rejectNoted(decision, "no client bytes named another destination within the deadline")
            }
            return refuseFirstBytes("the first bytes did not complete in time")
        case .connecting, .dialling, .established:
            guard held != nil, !judged else { return .wait }
            return refuseFirstBytes("the first bytes did not complete in time")
        case .verifying, .relaying, .inspecting, .closed:
            return .wait
        }
    }

    /// The client closed its side. nil: nothing to do now (the half-close travels on once
    /// the tunnel relays); a refusal when it closed in the middle of its first message.
    mutating func clientInputClosed() -> Action? {
        clientClosed = true
        let incomplete = held.map { !judged && FirstBytesClassifier.classify($0) == .needMoreBytes } ?? false
        switch state {
        case .relaying, .inspecting, .closed:
            return nil
        case .waitingForClaim:
            if held == nil, let decision { return rejectNoted(decision, "the client closed without sending anything") }
            return incomplete ? refuseFirstBytes("the client closed before its first message was complete") : nil
        case .connecting, .verifying, .dialling:
            // Complete bytes are judged once connected; the half-close follows them.
            return incomplete ? refuseFirstBytes("the client closed before its first message was complete") : nil
        case .established:
            if incomplete { return refuseFirstBytes("the client closed before its first message was complete") }
            // Nothing was sent: nothing to check; the half-close travels (server-first protocols end).
            return held == nil && !judged ? release() : nil
        }
    }

    /// A policy change rejects this tunnel now.
    mutating func policyChanged(_ now: Decision) -> Action {
        if case .closed = state { return .wait }
        record.closeCause = .policyChanged(now)
        state = .closed
        return .refuse(nil)
    }

    /// The connection is gone (either side); the record is final.
    mutating func closed() {
        state = .closed
    }

    /// A failure after the decision (the handler could not carry it out).
    mutating func fail(_ reason: String) { record.fail(reason) }

    mutating func countUp(_ n: Int) { record.bytesUp += Int64(n) }
    mutating func countDown(_ n: Int) { record.bytesDown += Int64(n) }
    mutating func setStatus(_ status: Int) { record.status = status }

    mutating func reject(_ decision: Decision, on target: Target) -> Action {
        self.decision = decision
        record.decide(decision, on: target)
        return close(answered ? nil : .rejected(decision))
    }

    mutating func rejectNoted(_ decision: Decision, _ note: String) -> Action {
        record.decide(decision, on: target)
        record.note = note
        return close(nil)
    }

    mutating func refuseFirstBytes(_ why: String) -> Action {
        record.refuse(.reject, AuditVocabulary.tunnelFirstBytes, reason: why + " (\(Escape.escaped(target.host.description)))")
        return close(nil)
    }

    mutating func close(_ reply: Reply?) -> Action {
        state = .closed
        held = nil
        if case .transparent = kind { return .refuse(nil) }  // nothing is ever written back
        return .refuse(answered ? nil : reply)
    }
}
