import PortcullisModel
import PortcullisPolicy

/// A sandbox as the API shows it.
public struct SandboxView: Sendable {
    public let record: SandboxRecord
    public let mode: Mode
    public let proxy: ProxyEndpoints
}

/// `GET …/network/policy`: the sandbox's own settings and the effective policy.
public struct SandboxPolicyView: Sendable {
    public let sandboxID: String
    public let mode: Mode
    public let ownMode: Mode?
    public let allowRules: [StoredRule]
    public let denyRules: [StoredRule]
    public let profiles: [String]
    public let policyVersion: UInt64
    public let updatedAt: Timestamp
    /// Every layer's rules, each with its `source`.
    public let effectiveAllow: [StoredRule]
    public let effectiveDeny: [StoredRule]
}

/// `GET /api/v1/network/policy`.
public struct TenantPolicyView: Sendable {
    public let tenantID: String
    public let defaultMode: Mode
    public let defaultProfiles: [String]
    public let allowRules: [StoredRule]
    public let denyRules: [StoredRule]
    public let policyVersion: UInt64
    public let updatedAt: Timestamp
}

/// A profile as the API shows it.
public struct ProfileView: Sendable {
    public let name: String
    public let builtin: Bool
    public let description: String?
    public let rules: [StoredRule]
}

/// The decision `explain` reports.
public struct ExplainView: Sendable {
    public let decision: Decision
    /// The address that would be dialled (nil without `resolved`).
    public let address: IPAddress?
    /// Whether a TLS connection to the host and port would be terminated, and why.
    public let termination: Termination

    public struct Termination: Sendable, Hashable {
        public let terminated: Bool
        public let reason: String
    }
}

/// `GET …/network/suggestions`: the report, and which hosts an allow rule already covers
/// (lockdown adds nothing for those, so it never widens a narrower rule).
public struct SuggestionsView: Sendable {
    public let report: SuggestionReport
    /// Host (as suggested) → the id of an allow rule, of any layer, that covers it.
    public let allowedBy: [String: String]
}

/// The compatibility surface's policy object.
public struct CompatPolicyView: Sendable {
    public let computerID: String
    public let mode: Mode
    public let rules: [StoredRule]
    public let updatedAt: Timestamp
}

/// Built-in profile rules have no creation time of their own; they report this one.
public let builtinRuleTime = Timestamp(milliseconds: 0)
