/// How a sandbox's rules are applied (POLICY-MODEL.md, "Modes").
public enum Mode: String, Hashable, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// Everything is allowed; rules are kept, not applied. The address guard still applies.
    case unrestricted
    /// Observe: everything is allowed, what enforcement would reject is logged `would_reject`.
    case audit
    /// Enforce / lockdown: only what an allow rule covers; the rest is rejected and pending.
    case allowlist
    /// Everything but what a deny rule covers.
    case denylist
    /// Nothing at all.
    case isolated

    /// Parses a canonical name or an input alias (`enforce` → allowlist, `observe` → audit).
    public init?(parsing text: String) {
        switch text {
        case "enforce", "lockdown": self = .allowlist
        case "observe", "audit-only": self = .audit
        default: self.init(rawValue: text)
        }
    }

    /// The accepted spellings, for error messages.
    public static let acceptedSpellings =
        "unrestricted, audit (or observe), allowlist (or enforce), denylist, isolated"

    public var description: String { rawValue }
}

/// What a rule does when it matches.
public enum RuleAction: String, Hashable, Sendable, Codable, CustomStringConvertible {
    case allow
    case deny
    public var description: String { rawValue }
}

/// The transport a rule covers. `any` (the default) covers both.
public enum TransportProtocol: String, Hashable, Sendable, Codable, CustomStringConvertible {
    case tcp
    case udp
    case any
    public var description: String { rawValue }
}
