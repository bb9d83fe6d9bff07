import NIOCore
import PortcullisPolicy
import PortcullisWire

/// The first-bytes check of one tunnel as a plain state machine: the client's bytes go in,
/// an action comes out; the handler that owns it performs the I/O: the client side of a
/// checked glue pair (`GlueHandler.checkedPair`, what `Tunnel.install` uses: no extra
/// handler to add and remove per tunnel).
struct FirstBytesHold {
    enum Action {
        /// Keep holding; `armDeadline` is true for the first incomplete read (the deadline
        /// runs from the first held byte).
        case wait(armDeadline: Bool)
        /// Checked: pass these bytes on (exactly the bytes received), then relay.
        case forward(ByteBuffer)
        /// Refused: the record is filled; write it and close the tunnel.
        case reject
    }

    let check: TunnelCheck
    let record: AttemptRecord
    let sandbox: SandboxContext
    let target: Target
    let timeout: TimeAmount
    private var held: ByteBuffer?
    private var armed = false
    /// True once a verdict was reached (forwarded or refused).
    private(set) var done = false

    init(check: TunnelCheck, record: AttemptRecord, sandbox: SandboxContext, target: Target, timeout: TimeAmount) {
        self.check = check
        self.record = record
        self.sandbox = sandbox
        self.target = target
        self.timeout = timeout
    }

    /// Whether some bytes are held without a verdict yet.
    var holding: Bool { !done && held != nil }

    mutating func receive(_ bytes: ByteBuffer) -> Action {
        var bytes = bytes
        if held == nil {
            held = bytes
        } else {
            held!.writeBuffer(&bytes)
        }
        guard let current = held else { return .wait(armDeadline: false) }
        switch check.evaluate(current) {
        case .waitForMore:
            // Most first reads are complete (one ClientHello or HTTP head), so the deadline
            // is armed only when the check needs more.
            let arm = !armed
            armed = true
            return .wait(armDeadline: arm)
        case .forward(let sni):
            done = true
            record.event.sni = sni
            held = nil
            return .forward(current)
        case .reject(let inconsistency, let sni):
            record.event.sni = sni
            let decision = sandbox.policy.reject(inconsistency, for: target)
            record.apply(decision, target: target, sandbox: sandbox)
            return finishRejected()
        case .malformed(let message):
            return rejectMalformed(message)
        }
    }

    /// The deadline passed without a verdict.
    mutating func timedOut() -> Action {
        guard !done else { return .wait(armDeadline: false) }
        return rejectMalformed("the first bytes did not complete in time")
    }

    /// The client closed its side; a refusal when it did so mid-message, else nil (the
    /// half-close travels on).
    mutating func inputClosed() -> Action? {
        guard holding else { return nil }
        return rejectMalformed("the client closed before its first message was complete")
    }

    private mutating func rejectMalformed(_ message: String) -> Action {
        guard !done else { return .wait(armDeadline: false) }
        record.failure(action: "reject", rejectedBy: ProxyVocabulary.tunnelMalformed,
                       reason: message + " (\(Escape.escaped(target.host.description)))", status: nil)
        record.event.wouldReject = false
        return finishRejected()
    }

    private mutating func finishRejected() -> Action {
        done = true
        held = nil
        return .reject
    }
}
