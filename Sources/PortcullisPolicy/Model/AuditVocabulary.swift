/// The fixed words of the audit log and of rejections, in one place.
public enum AuditVocabulary {
    // `via`
    public static let viaHTTP = "http"
    public static let viaConnect = "connect"
    public static let viaSOCKS5 = "socks5"
    public static let viaTransparent = "transparent"
    public static let viaDNS = "dns"

    // `rejected_by` values that are not rule ids.
    public static let defaultDeny = "default-deny"
    public static let modeIsolated = "mode:isolated"
    public static let guardPrefix = "guard:"
    public static let sniMismatch = "sni-mismatch"
    public static let sniMissing = "sni-missing"
    public static let hostMismatch = "host-mismatch"
    public static let addressMismatch = "address-mismatch"
    public static let endpointNotAllowed = "endpoint-not-allowed"
    public static let endpointOpaque = "endpoint-opaque"

    /// The header that carries `rejected_by` to HTTP and CONNECT clients.
    public static let reasonHeader = "X-Portcullis-Reason"
}

/// Where in the decision a verdict was reached.
public enum DecisionStage: String, Hashable, Sendable, Codable, CustomStringConvertible {
    case name
    case address
    case endpoint
    case consistency
    public var description: String { rawValue }
}

/// The verdict of a decision: `allow`, `warn` (allowed and flagged), or `reject`.
/// (The audit log's fourth action, `error`, is not a decision: it records a failure.)
public enum Verdict: String, Hashable, Sendable, Codable, CustomStringConvertible {
    case allow
    case warn
    case reject
    public var description: String { rawValue }

    public var permits: Bool { self != .reject }
}
