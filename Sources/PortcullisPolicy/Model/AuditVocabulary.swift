/// The audit log's `action` (POLICY-MODEL.md, "Audit log"): a decision's verdict, or
/// `error` for a failure that is not a decision (lookup failed, upstream refused, timeout,
/// a request that could not be parsed).
public enum AuditAction: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case allow
    case warn
    case reject
    case error

    public init(_ verdict: Verdict) {
        switch verdict {
        case .allow: self = .allow
        case .warn: self = .warn
        case .reject: self = .reject
        }
    }

    public var description: String { rawValue }
}

/// The audit log's `via`: the ingress an attempt came through.
public enum AuditVia: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// A plain HTTP request through the forward proxy.
    case http
    /// An HTTP CONNECT tunnel (and, inside it, each plain HTTP request).
    case connect
    case socks5
    /// A connection the host redirected to the transparent listener (`portcullis run`).
    case transparent
    case dns

    public var description: String { rawValue }
}

/// Every fixed word of the audit log and of rejections, in one place: the `rejected_by`
/// values that are not rule ids, whoever writes them (the engine, the data plane, the DNS
/// gateway, the listeners).
public enum AuditVocabulary {
    // MARK: decisions of the engine

    public static let defaultDeny = "default-deny"
    public static let modeIsolated = "mode:isolated"
    /// Prefix of a guard range's code (`guard:169.254.0.0/16`).
    public static let guardPrefix = "guard:"
    public static let sniMismatch = "sni-mismatch"
    public static let hostMismatch = "host-mismatch"
    public static let addressMismatch = "address-mismatch"
    public static let endpointNotAllowed = "endpoint-not-allowed"
    public static let endpointOpaque = "endpoint-opaque"
    /// A request on a terminated connection names another host than its SNI (421).
    public static let authorityMismatch = "authority-mismatch"

    // MARK: credentials (INSPECTION.md)

    /// A placeholder where its credential may not go (another host, header, the body, plain
    /// HTTP, another sandbox's, revoked): 403, nothing sent upstream.
    public static let credentialMisuse = "credential-misuse"
    /// A request to a binding with `require` that carries no placeholder: 403.
    public static let credentialRequired = "credential-required"
    /// A response carried an injected secret (replaced by its placeholder): a `warn` entry.
    public static let credentialReflected = "credential-reflected"

    // MARK: the data plane

    /// No, wrong or unknown proxy credential (407 / SOCKS auth failure).
    public static let unauthenticated = "proxy-auth"
    /// Too many open connections for one sandbox (429 / SOCKS 0x02).
    public static let sandboxConnectionLimit = "sandbox-connection-limit"
    /// The gateway is at its global connection cap (503 / SOCKS 0xFF / close).
    public static let connectionLimit = "connection-limit"
    /// A tunnel's first bytes were not what its target allows (a TLS record other than a
    /// ClientHello, an SSLv2 hello, no ClientHello to a name on a TLS port, a broken
    /// record), or did not arrive complete in time.
    public static let tunnelFirstBytes = "tunnel-first-bytes"
    /// The request could not be parsed or is ambiguous (400, 431, 408): smuggling-prone
    /// framing, characters outside RFC 3986, an ambiguous path.
    public static let badRequest = "bad-request"
    /// A connection the gateway must terminate whose client did not complete the TLS
    /// handshake (it does not trust the sandbox's CA, or speaks no TLS): refused, never
    /// passed through opaque.
    public static let tlsHandshake = "tls-handshake"
    /// A SOCKS5 command other than CONNECT (BIND, UDP ASSOCIATE): reply 0x07.
    public static let commandUnsupported = "command-not-supported"
    /// A live connection closed because a new policy rejects it.
    public static let policyChanged = "policy-changed"
    /// The target is one of the gateway's own listeners (API, proxy, SOCKS5, DNS,
    /// transparent): never reachable through the gateway, whatever the rules and exemptions.
    public static let gatewayListener = "guard:gateway-listener"
    /// Transparent listener: the connection's original destination could not be read (it
    /// was not redirected, or it names the listener itself). Closed, nothing dialled.
    public static let noOriginalDestination = "no-original-destination"
    /// Transparent listener and DNS gateway: the source address belongs to no sandbox.
    public static let unknownSource = "unknown-source"

    // MARK: the DNS gateway

    /// The question's name is not a host name (root, escaped bytes, an IP literal).
    public static let dnsBadName = "dns-bad-name"

    /// The header that carries `rejected_by` to HTTP and CONNECT clients.
    public static let reasonHeader = "X-Portcullis-Reason"
}
