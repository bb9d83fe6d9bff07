import PortcullisModel
import PortcullisPolicy

/// Who is calling: the tenant of their API key, and whether it is the admin key.
public struct Caller: Hashable, Sendable {
    public let tenantID: String
    public let keyID: String
    public let isAdmin: Bool
}

extension ControlPlane {
    /// Resolves `Authorization: Bearer <key>`; 401 for a missing or unknown key.
    public func authenticate(bearer key: String?) async throws -> Caller {
        guard let key, !key.isEmpty, key.utf8.count <= 256 else { throw ControlError.unauthorized }
        guard let record = try await store.key(hash: Identifiers.hash(apiKey: key)) else { throw ControlError.unauthorized }
        try await syncIfBehind()
        return Caller(tenantID: record.tenantID, keyID: record.id, isAdmin: record.isAdmin)
    }

    /// Makes sure an admin key exists. With `token`, that token is (or becomes) an admin
    /// key. Without one, an admin key is created on first start only. Returns the key text
    /// when one was created now, so `serve` can print it once.
    public func ensureAdminKey(token: String?) async throws -> String? {
        if let token {
            guard token.utf8.count >= 16 else { throw ControlError.badRequest("--admin-token must be at least 16 characters") }
            if try await store.key(hash: Identifiers.hash(apiKey: token)) != nil { return nil }
            do {
                try await store.createKey(APIKeyRecord(id: Identifiers.key(), tenantID: Self.defaultTenantID,
                                                       hash: Identifiers.hash(apiKey: token), isAdmin: true, createdAt: now()))
            } catch let e as StoreError where e.kind == .conflict {
                // Another node given the same token registered it first.
            }
            return nil
        }
        if try await store.keys(tenantID: Self.defaultTenantID).contains(where: \.isAdmin) { return nil }
        let key = Identifiers.apiKey()
        try await store.createKey(APIKeyRecord(id: Identifiers.key(), tenantID: Self.defaultTenantID,
                                               hash: Identifiers.hash(apiKey: key), isAdmin: true, createdAt: now()))
        return key
    }

    func requireAdmin(_ caller: Caller) throws {
        guard caller.isAdmin else { throw ControlError.adminRequired }
    }

    /// `POST /api/v1/tenants` (admin): a tenant and its first API key.
    public func createTenant(_ caller: Caller, name: String) async throws -> (tenant: TenantRecord, key: APIKeyRecord, apiKey: String) {
        try requireAdmin(caller)
        let trimmed = Text.trimmed(name)
        guard !trimmed.isEmpty, name.unicodeScalars.count <= 128, !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ControlError.badRequest("name must be 1-128 printable characters")
        }
        if try await store.tenant(named: trimmed) != nil { throw ControlError.conflict("tenant \(trimmed) already exists") }
        let t = now()
        let tenant = TenantRecord(id: Identifiers.tenant(), name: trimmed, createdAt: t, updatedAt: t)
        let store = self.store
        do { try await commit(.tenant(tenant.id)) { try await store.createTenant(tenant) } } catch let e as ControlError where e.status == 409 {
            throw ControlError.conflict("tenant \(trimmed) already exists")
        }
        let (key, text) = try await newKey(tenantID: tenant.id)
        return (tenant, key, text)
    }

    /// `GET /api/v1/tenants` (admin).
    public func listTenants(_ caller: Caller) throws -> [TenantRecord] {
        try requireAdmin(caller)
        return tenants.values.sorted { $0.id < $1.id }
    }

    /// `POST /api/v1/tenants/{id}/keys` (admin).
    public func createKey(_ caller: Caller, tenantID: String) async throws -> (key: APIKeyRecord, apiKey: String) {
        try requireAdmin(caller)
        guard tenants[tenantID] != nil else { throw ControlError.notFound("tenant not found") }
        return try await newKey(tenantID: tenantID)
    }

    /// `DELETE /api/v1/tenants/{id}/keys/{key_id}` (admin). The admin key cannot be revoked here.
    public func deleteKey(_ caller: Caller, tenantID: String, keyID: String) async throws {
        try requireAdmin(caller)
        guard tenants[tenantID] != nil else { throw ControlError.notFound("tenant not found") }
        guard let key = try await store.keys(tenantID: tenantID).first(where: { $0.id == keyID }) else {
            throw ControlError.notFound("key not found")
        }
        if key.isAdmin { throw ControlError.conflict("the admin key cannot be revoked through the API") }
        _ = try await store.deleteKey(id: keyID, tenantID: tenantID)
    }

    func newKey(tenantID: String) async throws -> (APIKeyRecord, String) {
        let text = Identifiers.apiKey()
        let record = APIKeyRecord(id: Identifiers.key(), tenantID: tenantID, hash: Identifiers.hash(apiKey: text), isAdmin: false, createdAt: now())
        try await store.createKey(record)
        return (record, text)
    }

    func tenant(_ caller: Caller) throws -> TenantRecord {
        guard let t = tenants[caller.tenantID] else { throw ControlError.unauthorized }
        return t
    }
}
