import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// The audit entry of one attempt (a tunnel, or one HTTP request), kept as typed parts —
/// who, what was asked, how it was decided, bytes, how it ended — and turned into an
/// `AuditEvent` once, when the attempt ends (`event(at:)`).
struct AuditRecord {
    /// How the attempt was settled.
    enum Outcome: Hashable {
        /// Nothing settled yet (a connection closed before it asked for anything).
        case pending
        /// The engine decided (allow, warn or reject).
        case decided(Decision)
        /// Refused by the data plane itself, not by a rule: `rejectedBy` is a fixed word of
        /// `AuditVocabulary` (proxy-auth, bad-request, tunnel-first-bytes, connection limits…).
        case refused(AuditAction, rejectedBy: String, reason: String)
        /// A failure that is not a decision (lookup, connect, upstream): `error`. `decision`
        /// is the one that let the attempt go that far, if any. Boxed (`indirect`): rare, and
        /// inline its payload would be the largest, sizing every record by it.
        indirect case failed(reason: String, decision: Decision?)
    }

    /// Why an attempt that was allowed ended early.
    enum CloseCause: Hashable {
        /// A policy change rejects it now. Boxed (`indirect`): rare, and inline it would add
        /// a decision's ~200 bytes to every record, and so to every idle tunnel.
        indirect case policyChanged(Decision)
        /// Something after the decision cut it (the upstream closed mid-response, a later
        /// request in the stream could not be followed, a write failed).
        case cut(String)
    }

    let via: AuditVia
    let client: String
    let time: Timestamp
    let started: NIODeadline
    var tenantID: String?
    var sandboxID: String?
    var policyVersion: UInt64 = 0
    /// The host as asked: canonical when it parsed, otherwise escaped input without userinfo or query.
    var host = ""
    var port: Int?
    var transport = "tcp"
    var sni: String?
    var address: String?
    var method: String?
    var path: String?
    var outcome: Outcome = .pending
    var status: Int?
    var bytesUp: Int64 = 0
    var bytesDown: Int64 = 0
    var closeCause: CloseCause?
    /// A few words added to the reason (why a rejection was final).
    var note: String?
    /// Seen inside TLS the gateway terminated.
    var terminated = false
    /// The credential injected into the request (its name).
    var credential: String?
    /// The decision's reason, when the caller already has its text (a keep-alive stream's
    /// repeated decision, `HTTPStreamHandler.reasonText`); nil: built from the decision.
    var decidedReason: String?

    init(via: AuditVia, client: String, time: Timestamp, started: NIODeadline = .now()) {
        self.via = via
        self.client = client
        self.time = time
        self.started = started
    }

    /// The sandbox the attempt belongs to.
    mutating func identify(_ sandbox: SandboxContext) {
        sandboxID = sandbox.sandboxID
        tenantID = sandbox.tenantID
        policyVersion = sandbox.policy.version
    }

    /// What was asked: host and port, and method and path where visible (the path already
    /// canonical; a query is never kept).
    mutating func ask(_ target: Target) {
        host = target.host.description
        port = target.port.map(Int.init)
        transport = target.transport?.rawValue ?? "tcp"
        if case .visible(let request) = target.request {
            method = request.method
            path = AuditEvent.loggablePath(request.path)
        }
    }

    mutating func decide(_ decision: Decision, on target: Target) {
        ask(target)
        host = decision.host.description
        policyVersion = decision.policyVersion
        outcome = .decided(decision)
        // Refused at the address stage: the address that would have been dialled.
        if address == nil, let judged = decision.judgedAddress { address = judged.description }
    }

    mutating func refuse(_ action: AuditAction, _ rejectedBy: String, reason: String) {
        outcome = .refused(action, rejectedBy: rejectedBy, reason: reason)
    }

    mutating func fail(_ reason: String) {
        let decision: Decision?
        if case .decided(let d) = outcome { decision = d } else { decision = nil }
        outcome = .failed(reason: reason, decision: decision)
    }

    /// The engine's decision, when it decided.
    var decision: Decision? {
        if case .decided(let d) = outcome { return d }
        return nil
    }

    /// Whether the attempt was decided and allowed (bytes may have flowed).
    var allowed: Bool {
        if case .decided(let d) = outcome { return d.verdict.permits }
        return false
    }

    /// The entry, built once.
    func event(at end: NIODeadline = .now()) -> AuditEvent {
        var event = AuditEvent(time: time, tenantID: tenantID, sandboxID: sandboxID, client: client, via: via, host: host,
                               sni: sni, address: address, port: port, transport: transport, method: method, path: path,
                               action: .error, reason: "", status: status, bytesUp: bytesUp, bytesDown: bytesDown,
                               durationMs: (end - started).nanoseconds / 1_000_000, policyVersion: policyVersion)
        event.terminated = terminated
        event.credential = credential
        switch outcome {
        case .pending:
            event.action = .error
            event.reason = "the connection closed before it asked for anything"
        case .decided(let decision):
            event.action = AuditAction(decision.verdict)
            event.wouldReject = decision.wouldReject
            event.ruleID = decision.ruleID
            event.rejectedBy = decision.rejectedBy
            event.reason = decidedReason ?? decision.reason
            event.joinsPending = decision.joinsPending
        case .refused(let action, let rejectedBy, let reason):
            event.action = action
            event.rejectedBy = rejectedBy
            event.reason = reason
        case .failed(let reason, let decision):
            event.action = .error
            event.ruleID = decision?.ruleID
            event.reason = reason
        }
        if let note { event.reason += " (\(note))" }
        switch closeCause {
        case nil:
            break
        case .policyChanged(let now):
            event.action = .reject
            event.wouldReject = false
            event.rejectedBy = AuditVocabulary.policyChanged
            event.ruleID = now.ruleID
            event.joinsPending = false
            event.reason = "closed after it was allowed: policy version \(now.policyVersion) rejects it"
                + " [\(now.rejectedBy ?? "rejected")]: \(now.reason)"
        case .cut(let why):
            event.reason += "; closed: \(why)"
        }
        return event
    }
}

extension AuditRecord {
    /// What the log keeps of a request target that did not parse: no userinfo, no query,
    /// no fragment, no path parameters, escaped and bounded (a credential or an API key in a URL never reaches
    /// the audit store).
    static func unparsedTarget(_ raw: String) -> String {
        var text = Substring(raw)
        if let cut = text.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { text = text[..<cut] }
        // userinfo: whatever lies between the scheme (or the start) and the last @ before the path.
        var start = text.startIndex
        if let scheme = text.firstRange(of: "://") { start = scheme.upperBound }
        let authorityEnd = text[start...].utf8.firstIndex(of: UInt8(ascii: "/")) ?? text.endIndex
        var kept = String(text)
        if let at = text[start..<authorityEnd].utf8.lastIndex(of: UInt8(ascii: "@")) {
            kept = String(text[..<start]) + String(text[text.utf8.index(after: at)...])
        }
        // Path parameters (`;jsessionid=…`) may carry secrets too: the path stops before them.
        let path = text.firstRange(of: "://") == nil ? kept.startIndex
            : kept[kept.firstRange(of: "://")!.upperBound...].firstIndex(of: "/") ?? kept.endIndex
        if let semicolon = kept[path...].firstIndex(of: ";") { kept = String(kept[..<semicolon]) }
        return Escape.escaped(kept, limit: 200)
    }
}
