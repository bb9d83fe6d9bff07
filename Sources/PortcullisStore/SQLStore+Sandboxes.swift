import PortcullisModel
import PortcullisPolicy
import SQLKit

extension SQLStore {
    public func createSandbox(_ sandbox: SandboxRecord, rules: [StoredRule]) async throws {
        let owner = RuleOwner.sandbox(sandbox.id)
        let stored = try SQLStore.canonicalRules(rules, of: owner)
        try await transaction { db in
            try await SQLStore.requireTenant(sandbox.tenantID, on: db)
            if try await db.raw("SELECT id FROM sandboxes WHERE id = \(bind: sandbox.id)").first() != nil {
                throw StoreError.exists("sandbox", sandbox.id)
            }
            try await SQLStore.checkAddresses(of: sandbox, on: db)
            let ca = AuthorityColumns(sandbox.certificateAuthority)
            try await db.raw("""
                INSERT INTO sandboxes (id, tenant_id, name, own_mode, profiles, proxy_token, created_at, updated_at,
                ca_certificate, ca_key)
                VALUES (\(bind: sandbox.id), \(bind: sandbox.tenantID), \(bind: sandbox.name),
                \(bind: sandbox.ownMode?.rawValue), \(bind: JSONText.encode(sandbox.profiles)),
                \(bind: sandbox.proxyToken), \(bind: sandbox.createdAt.milliseconds), \(bind: sandbox.updatedAt.milliseconds),
                \(bind: ca.certificate), \(bind: ca.key))
                """).run()
            try await SQLStore.insertAddresses(of: sandbox, on: db)
            try await SQLStore.insertRules(stored, on: db)
        }
    }

    public func sandbox(id: String) async throws -> SandboxRecord? {
        try await run { db in
            guard let row = try await db.raw("SELECT * FROM sandboxes WHERE id = \(bind: id)").first() else { return nil }
            let addresses = try await db.raw(
                "SELECT sandbox_id, address FROM sandbox_addresses WHERE sandbox_id = \(bind: id) ORDER BY position").all()
            return try SQLStore.sandboxes(from: [row], addresses: addresses).first
        }
    }

    public func sandboxes(tenantID: String, after cursor: String?, limit: Int) async throws -> [SandboxRecord] {
        guard limit > 0 else { return [] }
        return try await run { db in
            var query = db.select().column("*").from("sandboxes").where("tenant_id", .equal, tenantID)
            if let cursor { query = query.where("id", .greaterThan, cursor) }
            let rows = try await query.orderBy("id").limit(limit).all()
            let ids = try rows.map { row throws(StoreError) in try row.column("id", as: String.self) }
            guard !ids.isEmpty else { return [] }
            let addresses = try await db.select().columns("sandbox_id", "address").from("sandbox_addresses")
                .where("sandbox_id", .in, ids).orderBy("sandbox_id").orderBy("position").all()
            return try SQLStore.sandboxes(from: rows, addresses: addresses)
        }
    }

    public func allSandboxes() async throws -> [SandboxRecord] {
        try await run { db in
            let rows = try await db.raw("SELECT * FROM sandboxes ORDER BY id").all()
            let addresses = try await db.raw(
                "SELECT sandbox_id, address FROM sandbox_addresses ORDER BY sandbox_id, position").all()
            return try SQLStore.sandboxes(from: rows, addresses: addresses)
        }
    }

    public func updateSandbox(_ sandbox: SandboxRecord) async throws -> Bool {
        try await transaction { db in
            guard let old = try await db.raw("SELECT tenant_id FROM sandboxes WHERE id = \(bind: sandbox.id)").first() else {
                return false
            }
            if try old.column("tenant_id", as: String.self) != sandbox.tenantID {
                try await SQLStore.requireTenant(sandbox.tenantID, on: db)
            }
            try await SQLStore.checkAddresses(of: sandbox, on: db)
            try await db.raw("""
                UPDATE sandboxes SET tenant_id = \(bind: sandbox.tenantID), name = \(bind: sandbox.name),
                own_mode = \(bind: sandbox.ownMode?.rawValue), profiles = \(bind: JSONText.encode(sandbox.profiles)),
                proxy_token = \(bind: sandbox.proxyToken), created_at = \(bind: sandbox.createdAt.milliseconds),
                updated_at = \(bind: sandbox.updatedAt.milliseconds) WHERE id = \(bind: sandbox.id)
                """).run()
            try await db.raw("DELETE FROM sandbox_addresses WHERE sandbox_id = \(bind: sandbox.id)").run()
            try await SQLStore.insertAddresses(of: sandbox, on: db)
            return true
        }
    }

    public func deleteSandbox(id: String) async throws -> Bool {
        let owner = OwnerColumns(.sandbox(id))
        return try await transaction { db in
            try await SQLStore.deleteRules(of: owner, on: db)
            try await db.raw("DELETE FROM pending WHERE sandbox_id = \(bind: id)").run()
            try await db.raw("DELETE FROM credential_attachments WHERE sandbox_id = \(bind: id)").run()
            try await db.raw("DELETE FROM sandbox_addresses WHERE sandbox_id = \(bind: id)").run()
            return try await db.raw("DELETE FROM sandboxes WHERE id = \(bind: id) RETURNING id").first() != nil
        }
    }

    // MARK: Addresses

    /// Throws when an address is listed twice or belongs to another sandbox (the unique
    /// key would refuse it too, with a backend error instead of a conflict).
    static func checkAddresses(of sandbox: SandboxRecord, on db: any SQLDatabase) async throws {
        var seen: Set<String> = []
        for address in sandbox.sourceAddresses {
            guard seen.insert(address).inserted else { throw StoreError.addressListedTwice(address) }
            let row = try await db.raw("SELECT sandbox_id FROM sandbox_addresses WHERE address = \(bind: address)").first()
            if let row, case let owner = try row.column("sandbox_id", as: String.self), owner != sandbox.id {
                throw StoreError.addressTaken(address)
            }
        }
    }

    static func insertAddresses(of sandbox: SandboxRecord, on db: any SQLDatabase) async throws {
        guard !sandbox.sourceAddresses.isEmpty else { return }
        var insert = db.insert(into: "sandbox_addresses").columns("address", "sandbox_id", "position")
        for (position, address) in sandbox.sourceAddresses.enumerated() {
            insert = insert.values([address, sandbox.id, position])
        }
        try await insert.run()
    }

    /// Sandboxes from their rows, each with its addresses (rows of `sandbox_id, address`
    /// in position order).
    static func sandboxes(from rows: [any SQLRow], addresses: [any SQLRow]) throws(StoreError) -> [SandboxRecord] {
        var bySandbox: [String: [String]] = [:]
        for row in addresses {
            bySandbox[try row.column("sandbox_id", as: String.self), default: []].append(try row.column("address"))
        }
        return try rows.map { row throws(StoreError) in
            let id: String = try row.column("id")
            let ownMode: String? = try row.column("own_mode")
            return SandboxRecord(
                id: id, tenantID: try row.column("tenant_id"), name: try row.column("name"),
                ownMode: try ownMode.map { m throws(StoreError) in try SQLStore.mode(m) },
                profiles: try JSONText.decode(try row.column("profiles"), column: "profiles"),
                sourceAddresses: bySandbox[id] ?? [], proxyToken: try row.column("proxy_token"),
                createdAt: Timestamp(milliseconds: try row.column("created_at")),
                updatedAt: Timestamp(milliseconds: try row.column("updated_at")),
                certificateAuthority: try AuthorityColumns(row: row, sandboxID: id).authority)
        }
    }
}
