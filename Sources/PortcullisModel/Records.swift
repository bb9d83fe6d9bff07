import PortcullisPolicy

/// A tenant: owns API keys, sandboxes, templates, profiles and tenant-wide settings.
public struct TenantRecord: Hashable, Sendable {
    public var id: String
    public var name: String
    public var defaultMode: Mode
    public var defaultProfiles: [String]
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(id: String, name: String, defaultMode: Mode = .audit, defaultProfiles: [String] = [],
                createdAt: Timestamp, updatedAt: Timestamp) {
        self.id = id
        self.name = name
        self.defaultMode = defaultMode
        self.defaultProfiles = defaultProfiles
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// An API key; only its SHA-256 hash is stored.
public struct APIKeyRecord: Hashable, Sendable {
    public var id: String
    public var tenantID: String
    public var hash: String
    public var isAdmin: Bool
    public var createdAt: Timestamp

    public init(id: String, tenantID: String, hash: String, isAdmin: Bool, createdAt: Timestamp) {
        self.id = id
        self.tenantID = tenantID
        self.hash = hash
        self.isAdmin = isAdmin
        self.createdAt = createdAt
    }
}

/// A sandbox (the compat API's "computer").
public struct SandboxRecord: Hashable, Sendable {
    public var id: String
    public var tenantID: String
    public var name: String?
    /// The sandbox's own mode; nil follows the tenant's default.
    public var ownMode: Mode?
    /// Attached profiles, by name, in attachment order.
    public var profiles: [String]
    public var sourceAddresses: [String]
    /// The proxy password (the user name is the sandbox id).
    public var proxyToken: String
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    /// The sandbox's CA, key sealed; nil only for a sandbox made before CAs existed, until
    /// `serve` starts and gives it one. Written when the sandbox is created (or by
    /// `SecretsRepository.setCertificateAuthority`); `updateSandbox` never changes it.
    public var certificateAuthority: SealedCertificateAuthority?

    public init(id: String, tenantID: String, name: String? = nil, ownMode: Mode? = nil, profiles: [String] = [],
                sourceAddresses: [String] = [], proxyToken: String, createdAt: Timestamp, updatedAt: Timestamp,
                certificateAuthority: SealedCertificateAuthority? = nil) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.ownMode = ownMode
        self.profiles = profiles
        self.sourceAddresses = sourceAddresses
        self.proxyToken = proxyToken
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.certificateAuthority = certificateAuthority
    }
}

/// Who owns a stored rule.
public enum RuleOwner: Hashable, Sendable {
    case sandbox(String)
    case tenant(String)
    case profile(tenantID: String, name: String)
    case template(tenantID: String, name: String)
}

/// A rule as stored: the engine's rule, its owner and creation time.
public struct StoredRule: Hashable, Sendable {
    public var rule: Rule
    public var owner: RuleOwner
    public var createdAt: Timestamp
    /// Position within its owner, for stable ordering.
    public var position: Int

    public init(rule: Rule, owner: RuleOwner, createdAt: Timestamp, position: Int) {
        self.rule = rule
        self.owner = owner
        self.createdAt = createdAt
        self.position = position
    }
}

/// A tenant's own profile.
public struct ProfileRecord: Hashable, Sendable {
    public var tenantID: String
    public var name: String
    public var description: String?
    public var rules: [StoredRule]
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(tenantID: String, name: String, description: String?, rules: [StoredRule], createdAt: Timestamp, updatedAt: Timestamp) {
        self.tenantID = tenantID
        self.name = name
        self.description = description
        self.rules = rules
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A stored policy to create sandboxes from.
public struct TemplateRecord: Hashable, Sendable {
    public var tenantID: String
    public var name: String
    public var mode: Mode?
    public var rules: [StoredRule]
    public var profiles: [String]
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(tenantID: String, name: String, mode: Mode?, rules: [StoredRule], profiles: [String],
                createdAt: Timestamp, updatedAt: Timestamp) {
        self.tenantID = tenantID
        self.name = name
        self.mode = mode
        self.rules = rules
        self.profiles = profiles
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One stored pending-queue entry of a sandbox.
public struct PendingRecord: Hashable, Sendable {
    public var sandboxID: String
    public var entry: PendingEntry

    public init(sandboxID: String, entry: PendingEntry) {
        self.sandboxID = sandboxID
        self.entry = entry
    }
}
