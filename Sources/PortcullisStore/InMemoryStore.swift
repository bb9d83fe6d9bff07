import Foundation
import PortcullisModel
import PortcullisPolicy

/// A `Store` kept in memory, for tests and for running without a database. It behaves
/// like `SQLStore` in every observable way — the same orders, conflicts, cascades,
/// canonical rules and cursors — and the contract suite runs against both to keep it so.
public actor InMemoryStore: Store {
    struct NameKey: Hashable, Comparable {
        let tenantID: String
        let name: String
        static func < (a: NameKey, b: NameKey) -> Bool { (a.tenantID, a.name) < (b.tenantID, b.name) }
    }

    var tenantsByID: [String: TenantRecord] = [:]
    var keysByID: [String: APIKeyRecord] = [:]
    var sandboxesByID: [String: SandboxRecord] = [:]
    var addressOwner: [String: String] = [:]
    var rulesByOwner: [OwnerColumns: [StoredRule]] = [:]
    /// Profiles and templates without their rules, which live in `rulesByOwner`.
    var profilesByKey: [NameKey: ProfileRecord] = [:]
    var templatesByKey: [NameKey: TemplateRecord] = [:]
    var pendingBySandbox: [String: [String: PendingEntry]] = [:]
    /// Audit events in id order, with their numeric ids.
    var audit: [(number: Int64, event: AuditEvent)] = []
    var lastAuditNumber: Int64 = 0
    var version: UInt64 = 0
    var changes: [PolicyChange] = [PolicyChange(version: 0, scope: PolicyChangeScope(), time: Timestamp(milliseconds: 0))]
    var nodesByID: [String: NodeRecord] = [:]
    /// Policy changes one at a time.
    let changeLock = AsyncSerialLock()
    let clock: @Sendable () -> Timestamp
    var keyCheck: [UInt8]?
    var credentialsByID: [String: CredentialRecord] = [:]
    var attachmentsList: [CredentialAttachment] = []

    public init(clock: @escaping @Sendable () -> Timestamp = InMemoryStore.systemClock) {
        self.clock = clock
    }

    public static let systemClock: @Sendable () -> Timestamp = {
        Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
    }

    public func policyVersion() async throws -> UInt64 { version }

    public func shutdown() async throws {}

    // MARK: Tenants and keys

    public func createTenant(_ tenant: TenantRecord) async throws {
        guard tenantsByID[tenant.id] == nil else { throw StoreError.exists("tenant", tenant.id) }
        guard !tenantsByID.values.contains(where: { $0.name == tenant.name }) else {
            throw StoreError.tenantNameTaken(tenant.name)
        }
        tenantsByID[tenant.id] = tenant
    }

    public func tenant(id: String) async throws -> TenantRecord? { tenantsByID[id] }

    public func tenant(named name: String) async throws -> TenantRecord? {
        tenantsByID.values.first { $0.name == name }
    }

    public func tenants() async throws -> [TenantRecord] { tenantsByID.values.sorted { $0.id < $1.id } }

    public func updateTenant(_ tenant: TenantRecord) async throws {
        guard tenantsByID[tenant.id] != nil else { return }
        guard !tenantsByID.values.contains(where: { $0.name == tenant.name && $0.id != tenant.id }) else {
            throw StoreError.tenantNameTaken(tenant.name)
        }
        tenantsByID[tenant.id] = tenant
    }

    public func createKey(_ key: APIKeyRecord) async throws {
        guard tenantsByID[key.tenantID] != nil else { throw StoreError.unknownTenant(key.tenantID) }
        guard keysByID[key.id] == nil else { throw StoreError.exists("API key", key.id) }
        guard !keysByID.values.contains(where: { $0.hash == key.hash }) else { throw StoreError.keyHashTaken() }
        keysByID[key.id] = key
    }

    public func key(hash: String) async throws -> APIKeyRecord? { keysByID.values.first { $0.hash == hash } }

    public func keys(tenantID: String) async throws -> [APIKeyRecord] {
        keysByID.values.filter { $0.tenantID == tenantID }.sorted { $0.id < $1.id }
    }

    public func deleteKey(id: String, tenantID: String) async throws -> Bool {
        guard keysByID[id]?.tenantID == tenantID else { return false }
        keysByID[id] = nil
        return true
    }
}
