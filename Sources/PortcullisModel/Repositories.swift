import PortcullisPolicy

/// Why a store operation failed.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// A unique name or address is taken (API: 409).
        case conflict
        /// The backend failed (connection lost, disk full, corrupt database).
        case backend
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// An error a caller throws from inside `Store.commitPolicyChange`'s writes to abandon the
/// change: the store rolls back and hands it back as it is, not as a backend failure.
public protocol AbandonsPolicyChange: Error {}

/// Tenants and their API keys.
public protocol TenantRepository: Sendable {
    func createTenant(_ tenant: TenantRecord) async throws
    func tenant(id: String) async throws -> TenantRecord?
    func tenant(named name: String) async throws -> TenantRecord?
    func tenants() async throws -> [TenantRecord]
    func updateTenant(_ tenant: TenantRecord) async throws
    func createKey(_ key: APIKeyRecord) async throws
    /// The key whose SHA-256 hash (lower-case hex) is `hash`.
    func key(hash: String) async throws -> APIKeyRecord?
    func keys(tenantID: String) async throws -> [APIKeyRecord]
    func deleteKey(id: String, tenantID: String) async throws -> Bool
}

/// Sandboxes. Deleting a sandbox deletes its rules and pending entries too.
public protocol SandboxRepository: Sendable {
    /// Creates the sandbox with its initial local rules, in one transaction. Throws
    /// `StoreError(.conflict, …)` when a source address already belongs to another sandbox.
    func createSandbox(_ sandbox: SandboxRecord, rules: [StoredRule]) async throws
    func sandbox(id: String) async throws -> SandboxRecord?
    /// A page of a tenant's sandboxes ordered by id, starting after `cursor` (an id).
    func sandboxes(tenantID: String, after cursor: String?, limit: Int) async throws -> [SandboxRecord]
    /// Every sandbox of every tenant (to build the data plane's snapshot at start).
    func allSandboxes() async throws -> [SandboxRecord]
    /// Replaces the record; false when it does not exist. Conflicting source addresses throw.
    func updateSandbox(_ sandbox: SandboxRecord) async throws -> Bool
    func deleteSandbox(id: String) async throws -> Bool
}

/// Rules of sandboxes, tenants, tenant profiles and templates.
public protocol RuleRepository: Sendable {
    /// An owner's rules in position order.
    func rules(of owner: RuleOwner) async throws -> [StoredRule]
    /// Every stored rule (to build the snapshot at start).
    func allRules() async throws -> [StoredRule]
    func addRule(_ rule: StoredRule) async throws
    /// Removes one rule of `owner`; false when it has no rule with that id.
    func deleteRule(id: String, of owner: RuleOwner) async throws -> Bool
    /// Replaces all of an owner's rules in one transaction.
    func replaceRules(of owner: RuleOwner, with rules: [StoredRule]) async throws
}

/// Tenant-defined profiles (built-in ones live in the engine).
public protocol ProfileRepository: Sendable {
    func profile(tenantID: String, name: String) async throws -> ProfileRecord?
    func profiles(tenantID: String) async throws -> [ProfileRecord]
    /// Every tenant profile (to build the snapshot at start).
    func allProfiles() async throws -> [ProfileRecord]
    /// Throws `StoreError(.conflict, …)` when the name is taken.
    func createProfile(_ profile: ProfileRecord) async throws
    /// Replaces description and rules; false when it does not exist.
    func replaceProfile(_ profile: ProfileRecord) async throws -> Bool
    func deleteProfile(tenantID: String, name: String) async throws -> Bool
}

/// Templates: stored policies to create sandboxes from.
public protocol TemplateRepository: Sendable {
    func template(tenantID: String, name: String) async throws -> TemplateRecord?
    func templates(tenantID: String) async throws -> [TemplateRecord]
    /// Throws `StoreError(.conflict, …)` when the name is taken.
    func createTemplate(_ template: TemplateRecord) async throws
    func replaceTemplate(_ template: TemplateRecord) async throws -> Bool
    func deleteTemplate(tenantID: String, name: String) async throws -> Bool
}

extension PendingRepository {
    /// `addPending` when the evictions do not matter.
    public func recordPending(sandboxID: String, host: String, port: UInt16?, at time: Timestamp, capacity: Int) async throws -> PendingEntry {
        try await addPending(sandboxID: sandboxID, host: host, port: port, at: time, capacity: capacity).entry
    }
}

/// Each sandbox's pending queue, kept with `PendingQueue`'s rules (bounded, least recently
/// seen dropped first).
public protocol PendingRepository: Sendable {
    /// Adds or bumps `(host, port)` for the sandbox; returns the entry as stored and how many
    /// entries were dropped to keep the queue within `capacity` (POLICY-MODEL.md: "oldest
    /// dropped first, and counted").
    func addPending(sandboxID: String, host: String, port: UInt16?, at time: Timestamp,
                    capacity: Int) async throws -> (entry: PendingEntry, evicted: Int)
    /// The sandbox's entries, most recently seen first.
    func pending(sandboxID: String) async throws -> [PendingEntry]
    /// Removes an entry and returns it; nil when there is none.
    func removePending(sandboxID: String, id: String) async throws -> PendingEntry?
}

/// A filtered audit query. Results are newest first.
public struct AuditQuery: Hashable, Sendable {
    public var tenantID: String
    public var sandboxID: String?
    public var action: String?
    public var host: String?
    public var since: Timestamp?
    public var until: Timestamp?
    /// Opaque cursor from a previous page (`next_cursor`).
    public var cursor: String?
    public var limit: Int

    public init(tenantID: String, sandboxID: String? = nil, action: String? = nil, host: String? = nil,
                since: Timestamp? = nil, until: Timestamp? = nil, cursor: String? = nil, limit: Int = 100) {
        self.tenantID = tenantID
        self.sandboxID = sandboxID
        self.action = action
        self.host = host
        self.since = since
        self.until = until
        self.cursor = cursor
        self.limit = limit
    }
}

/// One page of audit events.
public struct AuditPage: Hashable, Sendable {
    public var items: [AuditEvent]
    /// Absent on the last page.
    public var nextCursor: String?

    public init(items: [AuditEvent], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// One audit event as the live tail reads it.
public struct AuditTailRow: Sendable {
    public let number: Int64
    /// The node that wrote it (`serve --node-id`); nil for a store opened without one.
    public let node: String?
    public let event: AuditEvent

    public init(number: Int64, node: String?, event: AuditEvent) {
        self.number = number
        self.node = node
        self.event = event
    }
}

/// The audit log.
public protocol AuditRepository: Sendable {
    /// Writes a batch in one transaction, assigning ids; returns the events with their ids.
    func append(_ events: [AuditEvent]) async throws -> [AuditEvent]
    func query(_ query: AuditQuery) async throws -> AuditPage
    /// `(host, port, count)` of a sandbox's events since `since`, for suggestions.
    func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally]
    /// Deletes events older than `cutoff`; returns how many.
    func deleteOlder(than cutoff: Timestamp) async throws -> Int
    /// The number of stored events (for tests and metrics).
    func count() async throws -> Int
}

/// Everything Portcullis stores, behind one object.
public protocol Store: TenantRepository, SandboxRepository, RuleRepository, ProfileRepository, TemplateRepository,
    PendingRepository, AuditRepository, NodeRepository, SecretsRepository, CredentialRepository {
    /// The database's policy version: one integer for the whole database, raised by every
    /// policy change of any tenant, so decisions made after a restart never reuse a version.
    func policyVersion() async throws -> UInt64
    /// Runs `writes` (calls on this same store, made one after another) in one transaction
    /// that also raises the policy version, records the change in the change log and rings
    /// the doorbell (PostgreSQL `NOTIFY`, delivered at commit); returns the new version.
    /// When `writes` throws, nothing of it is kept and the version does not move.
    func commitPolicyChange(_ scope: PolicyChangeScope, _ writes: @Sendable () async throws -> Void) async throws -> UInt64
    /// The logged changes after `version`, oldest first, at most `limit`.
    func policyChanges(after version: UInt64, limit: Int) async throws -> PolicyChangeLog
    /// Removes change-log entries recorded before `cutoff`, always keeping the newest one.
    func pruneChanges(before cutoff: Timestamp) async throws -> Int
    /// Audit events with a store number above `number`, oldest first, each with the node
    /// that wrote it (the live stream's view of other nodes' traffic).
    func auditTail(after number: Int64, limit: Int) async throws -> [AuditTailRow]
    /// The highest audit store number (0 when empty): where a live tail starts.
    func newestAuditNumber() async throws -> Int64
    /// Closes connections; the store is unusable afterwards.
    func shutdown() async throws
}
