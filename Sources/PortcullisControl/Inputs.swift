import PortcullisPolicy

/// `POST /api/v1/sandboxes`.
public struct SandboxCreateInput: Sendable {
    public var name: String?
    public var template: String?
    public var cloneFrom: String?
    public var networkAllow: [String]?
    public var networkDeny: [String]?
    public var networkProfile: String?
    public var profiles: [String]?
    public var mode: String?
    public var sourceAddresses: [String]?

    public init(name: String? = nil, template: String? = nil, cloneFrom: String? = nil, networkAllow: [String]? = nil,
                networkDeny: [String]? = nil, networkProfile: String? = nil, profiles: [String]? = nil,
                mode: String? = nil, sourceAddresses: [String]? = nil) {
        self.name = name
        self.template = template
        self.cloneFrom = cloneFrom
        self.networkAllow = networkAllow
        self.networkDeny = networkDeny
        self.networkProfile = networkProfile
        self.profiles = profiles
        self.mode = mode
        self.sourceAddresses = sourceAddresses
    }
}

/// An exported policy: the body of the native policy PUT and of templates.
public struct ExportedPolicyInput: Sendable {
    public var mode: String?
    public var allowRules: [RuleDraft]?
    public var denyRules: [RuleDraft]?
    public var profiles: [String]?
    /// The body is a policy read back that followed its tenant (`own_mode: null`): when
    /// `mode` is the tenant's default mode anyway, the target follows the tenant too rather
    /// than pinning that mode as its own (docs/api.md, "Sending a policy back").
    public var followedTenant: Bool

    public init(mode: String? = nil, allowRules: [RuleDraft]? = nil, denyRules: [RuleDraft]? = nil, profiles: [String]? = nil,
                followedTenant: Bool = false) {
        self.mode = mode
        self.allowRules = allowRules
        self.denyRules = denyRules
        self.profiles = profiles
        self.followedTenant = followedTenant
    }
}

/// `POST …/network/explain`.
public struct ExplainInput: Sendable {
    public var host: String
    public var port: Int?
    public var transport: String?
    public var method: String?
    public var path: String?
    public var resolved: [String]?

    public init(host: String, port: Int? = nil, transport: String? = nil, method: String? = nil, path: String? = nil, resolved: [String]? = nil) {
        self.host = host
        self.port = port
        self.transport = transport
        self.method = method
        self.path = path
        self.resolved = resolved
    }
}

/// The tenant policy PUT.
public struct TenantPolicyInput: Sendable {
    public var defaultMode: String?
    public var defaultProfiles: [String]?
    public var allowRules: [RuleDraft]?
    public var denyRules: [RuleDraft]?

    public init(defaultMode: String? = nil, defaultProfiles: [String]? = nil, allowRules: [RuleDraft]? = nil, denyRules: [RuleDraft]? = nil) {
        self.defaultMode = defaultMode
        self.defaultProfiles = defaultProfiles
        self.allowRules = allowRules
        self.denyRules = denyRules
    }
}

/// One rule of the compatibility surface's PUT.
public struct CompatRuleInput: Sendable {
    public var host: String
    public var port: Int?
    public var transport: String?

    public init(host: String, port: Int? = nil, transport: String? = nil) {
        self.host = host
        self.port = port
        self.transport = transport
    }
}
