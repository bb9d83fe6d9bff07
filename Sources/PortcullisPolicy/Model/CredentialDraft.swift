/// A credential as an operator writes it (API body, CLI flags), before validation.
/// `validate` turns it into a `CredentialSpec` or says precisely what is wrong, naming the
/// field as the API spells it (`binding.host`, `placement.format`, …). The value is checked
/// on its own (`validateValue`), since a replacement may leave it out.
public struct CredentialDraft: Hashable, Sendable {
    public var name: String
    public var host: String
    public var port: Int?
    public var methods: [String]?
    public var pathPrefix: String?
    /// `header`, `basic` or `query`.
    public var placementKind: String
    public var placementName: String?
    public var placementFormat: String?
    public var require: Bool?

    public init(name: String, host: String, port: Int? = nil, methods: [String]? = nil, pathPrefix: String? = nil,
                placementKind: String, placementName: String? = nil, placementFormat: String? = nil, require: Bool? = nil) {
        self.name = name
        self.host = host
        self.port = port
        self.methods = methods
        self.pathPrefix = pathPrefix
        self.placementKind = placementKind
        self.placementName = placementName
        self.placementFormat = placementFormat
        self.require = require
    }

    /// The longest value accepted, in bytes.
    public static let maxValueBytes = 8192
    /// The longest header format accepted, in bytes.
    public static let maxFormatBytes = 1024
    /// Headers a credential may not be placed in: the request's framing and routing, which
    /// the gateway owns (a secret there would corrupt the request or reach the wrong place).
    public static let reservedHeaders: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
        "proxy-connection", "proxy-authorization", "expect", "accept-encoding", "content-encoding",
    ]

    /// The validated credential, or the first thing wrong with the draft.
    public func validate() throws(RuleError) -> CredentialSpec {
        try CredentialDraft.validateName(name)
        let host = try CredentialDraft.validateHost(self.host)
        var port: UInt16 = 443
        if let p = self.port {
            guard (1...65535).contains(p) else { throw RuleError("binding.port must be between 1 and 65535, not \(p)") }
            port = UInt16(p)
        }
        var methods: [String]?
        if let m = self.methods {
            do { methods = try RuleDraft.validateMethods(m) } catch { throw RuleError("binding." + error.message) }
        }
        var prefix: String?
        if let p = pathPrefix { prefix = try CredentialDraft.validatePathPrefix(p) }
        return CredentialSpec(name: name, host: host, port: port, methods: methods, pathPrefix: prefix,
                              placement: try validatePlacement(), require: require ?? false)
    }

    /// Credential names: letters, digits, `.`, `_` and `-`, 1 to 64 characters, starting with
    /// a letter or digit (they appear in URLs, audit entries and environment variable names).
    public static func validateName(_ name: String) throws(RuleError) {
        let bytes = Array(name.utf8)
        func isAlnum(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
        guard (1...64).contains(bytes.count), isAlnum(bytes[0]),
              bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
        else {
            throw RuleError("name must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, not \(Escape.quoted(name))")
        }
    }

    /// A binding's host: an exact name or a wildcard, never an IP and never a public suffix or
    /// a wildcard over one — of either section of the list, and single-label names too: a
    /// wildcard over `github.io` would hand the secret to anyone's site there.
    static func validateHost(_ text: String) throws(RuleError) -> HostPattern {
        let pattern: HostPattern
        do { pattern = try HostParser.parsePattern(text) } catch { throw RuleError("binding.host: " + error.message) }
        switch pattern {
        case .address, .network:
            throw RuleError("binding.host: \(Escape.quoted(text)) is an IP address; a credential is bound to a host name (the gateway checks the name against the TLS certificate)")
        case .exact(let name):
            if PublicSuffixList.shipped.isPublicSuffix(name, icannOnly: false) {
                throw RuleError("binding.host: \(Escape.quoted(text)) is a public suffix, shared by unrelated owners; bind the credential to a name under it (api.example.com)")
            }
        case .wildcard(let base):
            if PublicSuffixList.shipped.isPublicSuffix(base, icannOnly: false) {
                throw RuleError("binding.host: \(Escape.quoted(text)) would cover every name under the public suffix \(Escape.quoted(base.text)); bind the credential to a name under a registrable domain (*.example.com)")
            }
        }
        return pattern
    }

    /// A path prefix: an absolute path in canonical form (as requests are compared).
    static func validatePathPrefix(_ text: String) throws(RuleError) -> String {
        guard text.hasPrefix("/") else { throw RuleError("binding.path_prefix must start with /, not \(Escape.quoted(text))") }
        guard !text.contains("?"), !text.contains("#") else {
            throw RuleError("binding.path_prefix is a path, without a query or fragment: \(Escape.quoted(text))")
        }
        switch CanonicalPath.canonicalize(text) {
        case .success(let canonical):
            guard canonical == text else {
                throw RuleError("binding.path_prefix must be written in canonical form: \(Escape.quoted(canonical)), not \(Escape.quoted(text))")
            }
            return canonical
        case .failure(let refusal):
            throw RuleError("binding.path_prefix: \(refusal.message)")
        }
    }

    func validatePlacement() throws(RuleError) -> CredentialPlacement {
        switch placementKind {
        case "header":
            guard let name = placementName else { throw RuleError("placement.name is required for kind header (e.g. Authorization)") }
            guard CredentialDraft.isToken(name), name.utf8.count <= 128 else {
                throw RuleError("placement.name: \(Escape.quoted(name)) is not an HTTP header name")
            }
            guard !CredentialDraft.reservedHeaders.contains(name.lowercased()) else {
                throw RuleError("placement.name: the gateway owns header \(name); place the credential in another header")
            }
            let format = placementFormat ?? "{secret}"
            guard format.utf8.count <= CredentialDraft.maxFormatBytes else {
                throw RuleError("placement.format is limited to \(CredentialDraft.maxFormatBytes) bytes")
            }
            guard CredentialDraft.occurrences(of: "{secret}", in: format) == 1 else {
                throw RuleError("placement.format must contain {secret} exactly once (e.g. \"Bearer {secret}\"), not \(Escape.quoted(format))")
            }
            guard format.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
                throw RuleError("placement.format must not contain control characters")
            }
            return .header(name: name, format: format)
        case "basic":
            if placementName != nil { throw RuleError("placement.name does not apply to kind basic (the username is the request's own)") }
            if placementFormat != nil { throw RuleError("placement.format applies to kind header only") }
            return .basic
        case "query":
            guard let name = placementName else { throw RuleError("placement.name is required for kind query (the parameter, e.g. key)") }
            let ok = (1...128).contains(name.utf8.count) && name.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "-._~".utf8.contains(b)
            }
            guard ok else {
                throw RuleError("placement.name: \(Escape.quoted(name)) is not a query parameter name (letters, digits, '-', '.', '_', '~')")
            }
            if placementFormat != nil { throw RuleError("placement.format applies to kind header only") }
            return .query(name: name)
        default:
            throw RuleError("placement.kind must be header, basic or query, not \(Escape.quoted(placementKind))")
        }
    }

    /// The shortest value accepted, in bytes: the response scrubber looks for forms of a
    /// secret of at least this length (a shorter one could not be told from ordinary text,
    /// so it would be injected but never scrubbed).
    public static let minValueBytes = 6

    /// A secret value: 6 to 8192 bytes of text without control characters (it may end up in
    /// a header line, where CR or LF would split the request).
    public static func validateValue(_ value: String) throws(RuleError) {
        let count = value.utf8.count
        guard (minValueBytes...maxValueBytes).contains(count) else {
            throw RuleError("value must be \(minValueBytes) to \(maxValueBytes) bytes, not \(count) (a shorter secret could not be scrubbed from responses)")
        }
        guard value.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
            throw RuleError("value must not contain control characters (CR, LF, tab, NUL, …)")
        }
        guard Placeholders.find(in: value).isEmpty else {
            throw RuleError("value must not contain a placeholder (pcx_…); give the secret itself")
        }
    }

    /// RFC 9110 §5.6.2 token characters.
    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    static func occurrences(of needle: String, in text: String) -> Int {
        var count = 0
        var rest = Substring(text)
        while let r = rest.firstRange(of: needle) {
            count += 1
            rest = rest[r.upperBound...]
        }
        return count
    }
}

/// A validated credential without its secret: where it may go and how. What the store keeps
/// beside the sealed value, and what the API shows.
public struct CredentialSpec: Hashable, Sendable {
    public var name: String
    public var host: HostPattern
    public var port: UInt16
    public var methods: [String]?
    public var pathPrefix: String?
    public var placement: CredentialPlacement
    public var require: Bool

    public init(name: String, host: HostPattern, port: UInt16 = 443, methods: [String]? = nil, pathPrefix: String? = nil,
                placement: CredentialPlacement, require: Bool = false) {
        self.name = name
        self.host = host
        self.port = port
        self.methods = methods
        self.pathPrefix = pathPrefix
        self.placement = placement
        self.require = require
    }

    /// The binding the data plane applies for one sandbox's placeholder.
    public func binding(placeholder: String, secret: String) -> CredentialBinding {
        CredentialBinding(name: name, placeholder: placeholder, host: host, port: port, methods: methods, pathPrefix: pathPrefix,
                          placement: placement, require: require, secret: secret)
    }

    /// Whether `rule` would keep a connection this credential needs opaque: an allow rule with
    /// `inspect: false` over TCP, for this port (or any), whose host pattern meets this
    /// binding's (INSPECTION.md: `inspect: false` only where no credential needs the host).
    public func isKeptOpaque(by rule: Rule) -> Bool {
        guard rule.action == .allow, rule.inspect == false, rule.transport != .udp else { return false }
        if let p = rule.port, p != port { return false }
        return CredentialSpec.patternsMeet(rule.host, host)
    }

    /// Whether some name is covered by both patterns.
    static func patternsMeet(_ a: HostPattern, _ b: HostPattern) -> Bool {
        switch (a, b) {
        case (.exact(let x), _): return b.covers(.name(x))
        case (_, .exact(let y)): return a.covers(.name(y))
        case (.wildcard(let x), .wildcard(let y)): return x.isSubdomain(of: y) || y.isSubdomain(of: x)
        case (.address, _), (.network, _), (_, .address), (_, .network): return false
        }
    }
}

extension CredentialSpec {
    /// The draft that validates back into this spec (how stores keep it as text).
    public var draft: CredentialDraft {
        var d = CredentialDraft(name: name, host: host.description, port: Int(port), methods: methods, pathPrefix: pathPrefix,
                                placementKind: placement.kind, require: require)
        switch placement {
        case .header(let n, let format):
            d.placementName = n
            d.placementFormat = format
        case .basic: break
        case .query(let n): d.placementName = n
        }
        return d
    }
}

extension CredentialPlacement {
    /// `header`, `basic` or `query`, as the API writes it.
    public var kind: String {
        switch self {
        case .header: return "header"
        case .basic: return "basic"
        case .query: return "query"
        }
    }
}
