import PortcullisPolicy

/// One audit log entry (POLICY-MODEL.md, "Audit log"; API.md, "An audit entry").
/// Strings from the sandbox (host, SNI, path) are stored as received, bounded in length;
/// they are escaped when shown. Query strings are never stored in `path`.
public struct AuditEvent: Hashable, Sendable {
    /// Assigned by the store when written (`aud_<n>`); nil before.
    public var id: String?
    public var time: Timestamp
    public var tenantID: String?
    public var sandboxID: String?
    /// The client's address and port, e.g. `127.0.0.1:53422`.
    public var client: String
    public var via: AuditVia
    /// The host as asked (canonical when it parsed; otherwise the escaped input).
    public var host: String
    public var sni: String?
    /// The address dialled.
    public var address: String?
    public var port: Int?
    /// `tcp` or `udp`.
    public var transport: String
    public var method: String?
    public var path: String?
    public var action: AuditAction
    public var wouldReject: Bool
    public var ruleID: String?
    public var rejectedBy: String?
    public var reason: String
    /// The HTTP status (or SOCKS reply code) given to the client.
    public var status: Int?
    public var bytesUp: Int64
    public var bytesDown: Int64
    public var durationMs: Int64
    public var policyVersion: UInt64
    /// The request was seen inside TLS the gateway terminated (INSPECTION.md).
    public var terminated: Bool = false
    /// The name of the credential injected into the request, if one was (never its value).
    public var credential: String?
    /// Whether this rejection puts `(host, port)` in the sandbox's pending queue (a
    /// default-deny rejection in allowlist mode). The audit writer records it there; it is
    /// not itself an audit column.
    public var joinsPending: Bool = false

    public init(id: String? = nil, time: Timestamp, tenantID: String?, sandboxID: String?, client: String, via: AuditVia,
                host: String, sni: String? = nil, address: String? = nil, port: Int?, transport: String = "tcp",
                method: String? = nil, path: String? = nil, action: AuditAction, wouldReject: Bool = false,
                ruleID: String? = nil, rejectedBy: String? = nil, reason: String, status: Int? = nil,
                bytesUp: Int64 = 0, bytesDown: Int64 = 0, durationMs: Int64 = 0, policyVersion: UInt64) {
        self.id = id
        self.time = time
        self.tenantID = tenantID
        self.sandboxID = sandboxID
        self.client = client
        self.via = via
        self.host = host
        self.sni = sni
        self.address = address
        self.port = port
        self.transport = transport
        self.method = method
        self.path = path
        self.action = action
        self.wouldReject = wouldReject
        self.ruleID = ruleID
        self.rejectedBy = rejectedBy
        self.reason = reason
        self.status = status
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.durationMs = durationMs
        self.policyVersion = policyVersion
    }

    /// Limits applied before storing sandbox-supplied strings.
    public static let maxHostLength = 1024
    public static let maxPathLength = 2048

    /// Builds the event for a decision; the caller fills status, bytes and duration later.
    public init(decision: Decision, target: Target, time: Timestamp, tenantID: String?, sandboxID: String?,
                client: String, via: AuditVia, sni: String? = nil, address: String? = nil) {
        var method: String?
        var path: String?
        if case .visible(let request) = target.request {
            method = request.method
            path = AuditEvent.loggablePath(request.path)
        }
        self.init(time: time, tenantID: tenantID, sandboxID: sandboxID, client: client, via: via,
                  host: decision.host.description, sni: sni, address: address, port: target.port.map(Int.init),
                  transport: target.transport?.rawValue ?? "tcp", method: method, path: path,
                  action: AuditAction(decision.verdict), wouldReject: decision.wouldReject, ruleID: decision.ruleID,
                  rejectedBy: decision.rejectedBy, reason: decision.reason, policyVersion: decision.policyVersion)
        self.joinsPending = decision.joinsPending
    }

    /// A path as logged: the query string and fragment dropped, bounded in length.
    /// (Searched byte by byte: a `?` or `#` ends the path even with a combining mark after it;
    /// a path with neither, within the bound, is kept as it is, not copied.)
    public static func loggablePath(_ path: String) -> String {
        var p = Substring(path)
        if let q = p.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            p = p[..<q]
        } else if p.utf8.count <= maxPathLength {
            return path
        }
        if p.utf8.count > maxPathLength { p = p.prefix(maxPathLength) }
        return String(p)
    }
}
