/// One allow or deny rule, validated and normalised (POLICY-MODEL.md, "Rules").
///
/// `methods`, `paths`, `warnOnly` and `inspect` belong to allow rules only; `except` to
/// deny rules only. `RuleDraft.validate()` is the way to build one from operator input.
public struct Rule: Hashable, Sendable {
    public var id: String
    public var action: RuleAction
    public var host: HostPattern
    /// nil covers every port.
    public var port: UInt16?
    public var transport: TransportProtocol
    /// Upper-case HTTP method tokens; nil covers every method.
    public var methods: [String]?
    /// Path patterns; nil covers every path.
    public var paths: [PathPattern]?
    public var warnOnly: Bool
    /// Host patterns a deny rule does not cover (each lies inside `host`).
    public var except: [HostPattern]
    /// Allow rules only (INSPECTION.md): true terminates TLS to the hosts the rule covers,
    /// false never does (its methods/paths then reject HTTPS as opaque), nil decides by
    /// the rule (methods or paths need the request visible).
    public var inspect: Bool?
    public var note: String?
    public var source: RuleSource

    public init(
        id: String, action: RuleAction, host: HostPattern, port: UInt16? = nil,
        transport: TransportProtocol = .any, methods: [String]? = nil, paths: [PathPattern]? = nil,
        warnOnly: Bool = false, except: [HostPattern] = [], inspect: Bool? = nil, note: String? = nil,
        source: RuleSource = .local
    ) {
        self.id = id
        self.action = action
        self.host = host
        self.port = port
        self.transport = transport
        self.methods = methods
        self.paths = paths
        self.warnOnly = warnOnly
        self.except = except
        self.inspect = inspect
        self.note = note
        self.source = source
    }

    /// True when the rule restricts methods or paths, so it can only be honoured where the
    /// request is visible.
    public var restrictsEndpoint: Bool { methods != nil || paths != nil }

    /// Port and protocol half of matching. A target port of nil (a DNS question) is met by
    /// every allow rule and only by deny rules that cover all ports; likewise for protocol.
    @inlinable
    public func coversPortAndProtocol(port targetPort: UInt16?, transport targetTransport: TransportProtocol?) -> Bool {
        switch action {
        case .allow:
            if let p = port, let t = targetPort, p != t { return false }
            if transport != .any, let t = targetTransport, t != transport { return false }
            return true
        case .deny:
            if let p = port, p != targetPort { return false }
            if transport != .any, transport != targetTransport { return false }
            return true
        }
    }

    /// Whether one of the `except` entries takes `host` out of this rule.
    @inlinable
    public func excepts(_ host: TargetHost) -> Bool {
        if except.isEmpty { return false }
        for pattern in except where pattern.covers(host) { return true }
        return false
    }

    /// Method and path half of matching.
    @inlinable
    public func coversEndpoint(_ visibility: RequestVisibility) -> Bool {
        guard restrictsEndpoint else { return true }
        let request: RequestLine
        switch visibility {
        case .notApplicable: return true
        case .opaque: return false
        case .visible(let r): request = r
        }
        if let methods, !methods.contains(request.method) { return false }
        if let paths {
            guard let path = request.normalizedPath else { return false }
            return paths.contains { $0.matches(normalizedPath: path) }
        }
        return true
    }
}

/// A request's method and path, where the gateway can see them.
public struct RequestLine: Hashable, Sendable {
    /// Upper-cased method token.
    public let method: String
    /// The path as sent (query included or not).
    public let path: String
    /// The path compared with rules: the query dropped, then `CanonicalPath`'s form. nil when
    /// the path is ambiguous (an encoded slash or backslash, `;`, `%00`, double encoding, a
    /// `..` above the root, …), which no path pattern then covers (the data plane refuses
    /// such requests with 400 before they are decided).
    public let normalizedPath: String?

    public init(method: String, path: String) {
        self.method = method.uppercased()
        self.path = path
        self.normalizedPath = PathPattern.normalize(requestPath: path)
    }
}
