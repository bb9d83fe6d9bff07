/// A rule as an operator writes it (API body, CLI flags, exported policy), before
/// validation. `validate` turns it into a `Rule` or says precisely what is wrong.
public struct RuleDraft: Hashable, Sendable {
    public var action: String
    public var host: String
    public var port: Int?
    public var transport: String?
    public var methods: [String]?
    public var paths: [String]?
    public var warnOnly: Bool?
    /// true, false, or nil (decide by the other rules); allow rules only.
    public var inspect: Bool?
    public var except: [String]?
    public var note: String?

    public init(
        action: String, host: String, port: Int? = nil, transport: String? = nil, methods: [String]? = nil,
        paths: [String]? = nil, warnOnly: Bool? = nil, inspect: Bool? = nil, except: [String]? = nil, note: String? = nil
    ) {
        self.action = action
        self.host = host
        self.port = port
        self.transport = transport
        self.methods = methods
        self.paths = paths
        self.warnOnly = warnOnly
        self.inspect = inspect
        self.except = except
        self.note = note
    }

    /// Limits on one rule, so hostile input stays bounded.
    public static let maxMethods = 32
    public static let maxPaths = 256
    public static let maxExcept = 256
    public static let maxNoteLength = 1024

    public func validate(id: String, source: RuleSource) throws(RuleError) -> Rule {
        guard let action = RuleAction(rawValue: action) else {
            throw RuleError("action must be allow or deny, not \(Escape.quoted(self.action))")
        }
        let pattern: HostPattern
        do { pattern = try HostParser.parsePattern(host) } catch { throw RuleError("host: " + error.message) }

        var port: UInt16?
        if let p = self.port {
            guard (1...65535).contains(p) else { throw RuleError("port must be between 1 and 65535, not \(p)") }
            port = UInt16(p)
        }
        var transport = TransportProtocol.any
        if let t = self.transport {
            guard let parsed = TransportProtocol(rawValue: t) else {
                throw RuleError("protocol must be tcp, udp or any, not \(Escape.quoted(t))")
            }
            transport = parsed
        }

        var methods: [String]?
        var paths: [PathPattern]?
        var except: [HostPattern] = []
        switch action {
        case .allow:
            if let e = self.except, !e.isEmpty {
                throw RuleError("except applies to deny rules only; to narrow an allow rule, list the hosts it should cover")
            }
            if let m = self.methods { methods = try RuleDraft.validateMethods(m) }
            if let p = self.paths { paths = try RuleDraft.validatePaths(p) }
            if (methods != nil || paths != nil), transport == .udp {
                throw RuleError("methods and paths need HTTP, which does not run over udp")
            }
            if inspect == true, transport == .udp {
                throw RuleError("inspect needs TLS, which does not run over udp")
            }
            if case .exact(let name) = pattern, GatewayHost.contains(name), port == nil {
                throw RuleError("an allow rule for \(name) (the gateway's host) needs a port, as in \(name):11434: "
                    + "it opens that one port of the host's loopback, never every service on the host")
            }
        case .deny:
            if self.methods != nil { throw RuleError("methods apply to allow rules only") }
            if self.paths != nil { throw RuleError("paths apply to allow rules only") }
            if self.warnOnly == true { throw RuleError("warn_only applies to allow rules only") }
            if self.inspect != nil { throw RuleError("inspect applies to allow rules only") }
            if let e = self.except {
                guard e.count <= RuleDraft.maxExcept else { throw RuleError("except is limited to \(RuleDraft.maxExcept) entries") }
                for entry in e {
                    let parsed: HostPattern
                    do { parsed = try HostParser.parsePattern(entry) } catch { throw RuleError("except: " + error.message) }
                    guard parsed.isWithin(pattern) else {
                        throw RuleError("except: \(parsed) is not covered by \(pattern), so excepting it has no effect")
                    }
                    if !except.contains(parsed) { except.append(parsed) }
                }
            }
        }
        if let n = note, n.count > RuleDraft.maxNoteLength {
            throw RuleError("note is limited to \(RuleDraft.maxNoteLength) characters")
        }
        return Rule(
            id: id, action: action, host: pattern, port: port, transport: transport, methods: methods, paths: paths,
            warnOnly: action == .allow ? (warnOnly ?? false) : false, except: except,
            inspect: action == .allow ? inspect : nil, note: note, source: source
        )
    }

    static func validateMethods(_ input: [String]) throws(RuleError) -> [String] {
        guard !input.isEmpty else { throw RuleError("methods must list at least one method, or be left out to cover all") }
        guard input.count <= maxMethods else { throw RuleError("methods is limited to \(maxMethods) entries") }
        var out: [String] = []
        for m in input {
            // RFC 9110 §5.6.2 token characters.
            let isToken = !m.isEmpty && m.utf8.count <= 32 && m.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                    || "!#$%&'*+-.^_`|~".utf8.contains(b)
            }
            guard isToken else { throw RuleError("methods: \(Escape.quoted(m)) is not an HTTP method such as GET or POST") }
            let upper = m.uppercased()
            if !out.contains(upper) { out.append(upper) }
        }
        return out
    }

    static func validatePaths(_ input: [String]) throws(RuleError) -> [PathPattern] {
        guard !input.isEmpty else { throw RuleError("paths must list at least one path, or be left out to cover all") }
        guard input.count <= maxPaths else { throw RuleError("paths is limited to \(maxPaths) entries") }
        var out: [PathPattern] = []
        for p in input {
            let parsed = try PathPattern.parse(p)
            if !out.contains(parsed) { out.append(parsed) }
        }
        return out
    }
}
