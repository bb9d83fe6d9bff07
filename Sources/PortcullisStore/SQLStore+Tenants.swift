import PortcullisModel
import PortcullisPolicy
import SQLKit

extension SQLStore {
    public func createTenant(_ tenant: TenantRecord) async throws {
        try await transaction { db in
            if try await db.raw("SELECT id FROM tenants WHERE id = \(bind: tenant.id)").first() != nil {
                throw StoreError.exists("tenant", tenant.id)
            }
            if try await db.raw("SELECT id FROM tenants WHERE name = \(bind: tenant.name)").first() != nil {
                throw StoreError.tenantNameTaken(tenant.name)
            }
            try await db.raw("""
                INSERT INTO tenants (id, name, default_mode, default_profiles, created_at, updated_at)
                VALUES (\(bind: tenant.id), \(bind: tenant.name), \(bind: tenant.defaultMode.rawValue),
                \(bind: JSONText.encode(tenant.defaultProfiles)), \(bind: tenant.createdAt.milliseconds),
                \(bind: tenant.updatedAt.milliseconds))
                """).run()
        }
    }

    public func tenant(id: String) async throws -> TenantRecord? {
        try await run { db in
            try await db.raw("SELECT * FROM tenants WHERE id = \(bind: id)").first().map(SQLStore.tenant(from:))
        }
    }

    public func tenant(named name: String) async throws -> TenantRecord? {
        try await run { db in
            try await db.raw("SELECT * FROM tenants WHERE name = \(bind: name)").first().map(SQLStore.tenant(from:))
        }
    }

    public func tenants() async throws -> [TenantRecord] {
        try await run { db in try await db.raw("SELECT * FROM tenants ORDER BY id").all().map(SQLStore.tenant(from:)) }
    }

    public func updateTenant(_ tenant: TenantRecord) async throws {
        try await transaction { db in
            if try await db.raw("SELECT id FROM tenants WHERE name = \(bind: tenant.name) AND id <> \(bind: tenant.id)")
                .first() != nil {
                throw StoreError.tenantNameTaken(tenant.name)
            }
            try await db.raw("""
                UPDATE tenants SET name = \(bind: tenant.name), default_mode = \(bind: tenant.defaultMode.rawValue),
                default_profiles = \(bind: JSONText.encode(tenant.defaultProfiles)),
                created_at = \(bind: tenant.createdAt.milliseconds), updated_at = \(bind: tenant.updatedAt.milliseconds)
                WHERE id = \(bind: tenant.id)
                """).run()
        }
    }

    public func createKey(_ key: APIKeyRecord) async throws {
        try await transaction { db in
            try await SQLStore.requireTenant(key.tenantID, on: db)
            if try await db.raw("SELECT id FROM api_keys WHERE id = \(bind: key.id)").first() != nil {
                throw StoreError.exists("API key", key.id)
            }
            if try await db.raw("SELECT id FROM api_keys WHERE hash = \(bind: key.hash)").first() != nil {
                throw StoreError.keyHashTaken()
            }
            try await db.raw("""
                INSERT INTO api_keys (id, tenant_id, hash, is_admin, created_at) VALUES (\(bind: key.id),
                \(bind: key.tenantID), \(bind: key.hash), \(bind: key.isAdmin), \(bind: key.createdAt.milliseconds))
                """).run()
        }
    }

    public func key(hash: String) async throws -> APIKeyRecord? {
        try await run { db in
            try await db.raw("SELECT * FROM api_keys WHERE hash = \(bind: hash)").first().map(SQLStore.key(from:))
        }
    }

    public func keys(tenantID: String) async throws -> [APIKeyRecord] {
        try await run { db in
            try await db.raw("SELECT * FROM api_keys WHERE tenant_id = \(bind: tenantID) ORDER BY id").all()
                .map(SQLStore.key(from:))
        }
    }

    public func deleteKey(id: String, tenantID: String) async throws -> Bool {
        try await run { db in
            try await db.raw("DELETE FROM api_keys WHERE id = \(bind: id) AND tenant_id = \(bind: tenantID) RETURNING id")
                .first() != nil
        }
    }

    // MARK: Rows

    static func requireTenant(_ id: String, on db: any SQLDatabase) async throws {
        if try await db.raw("SELECT id FROM tenants WHERE id = \(bind: id)").first() == nil {
            throw StoreError.unknownTenant(id)
        }
    }

    static func tenant(from row: any SQLRow) throws(StoreError) -> TenantRecord {
        TenantRecord(id: try row.column("id"), name: try row.column("name"),
                     defaultMode: try mode(try row.column("default_mode", as: String.self)),
                     defaultProfiles: try JSONText.decode(try row.column("default_profiles"), column: "default_profiles"),
                     createdAt: Timestamp(milliseconds: try row.column("created_at")),
                     updatedAt: Timestamp(milliseconds: try row.column("updated_at")))
    }

    static func key(from row: any SQLRow) throws(StoreError) -> APIKeyRecord {
        APIKeyRecord(id: try row.column("id"), tenantID: try row.column("tenant_id"), hash: try row.column("hash"),
                     isAdmin: try row.column("is_admin"), createdAt: Timestamp(milliseconds: try row.column("created_at")))
    }

    static func mode(_ text: String) throws(StoreError) -> Mode {
        guard let mode = Mode(rawValue: text) else { throw StoreError.corrupt("mode \(text)") }
        return mode
    }
}
