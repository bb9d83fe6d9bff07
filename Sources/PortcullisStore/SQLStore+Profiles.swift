import PortcullisModel
import PortcullisPolicy
import SQLKit

extension SQLStore {
    public func profile(tenantID: String, name: String) async throws -> ProfileRecord? {
        try await run { db in
            guard let row = try await db.raw(
                "SELECT * FROM profiles WHERE tenant_id = \(bind: tenantID) AND name = \(bind: name)").first() else { return nil }
            let rules = try await SQLStore.ownedRules(kind: "profile", tenantID: tenantID, on: db)
            return try SQLStore.profile(from: row, rules: rules)
        }
    }

    public func profiles(tenantID: String) async throws -> [ProfileRecord] {
        try await run { db in
            let rows = try await db.raw("SELECT * FROM profiles WHERE tenant_id = \(bind: tenantID) ORDER BY name").all()
            let rules = try await SQLStore.ownedRules(kind: "profile", tenantID: tenantID, on: db)
            return try rows.map { row throws(StoreError) in try SQLStore.profile(from: row, rules: rules) }
        }
    }

    public func allProfiles() async throws -> [ProfileRecord] {
        try await run { db in
            let rows = try await db.raw("SELECT * FROM profiles ORDER BY tenant_id, name").all()
            let rules = try await SQLStore.ownedRules(kind: "profile", tenantID: nil, on: db)
            return try rows.map { row throws(StoreError) in try SQLStore.profile(from: row, rules: rules) }
        }
    }

    public func createProfile(_ profile: ProfileRecord) async throws {
        let rules = try SQLStore.canonicalRules(profile.rules, of: .profile(tenantID: profile.tenantID, name: profile.name))
        try await transaction { db in
            try await SQLStore.requireTenant(profile.tenantID, on: db)
            if try await db.raw(
                "SELECT name FROM profiles WHERE tenant_id = \(bind: profile.tenantID) AND name = \(bind: profile.name)"
            ).first() != nil {
                throw StoreError.profileNameTaken(profile.name)
            }
            try await db.raw("""
                INSERT INTO profiles (tenant_id, name, description, created_at, updated_at) VALUES
                (\(bind: profile.tenantID), \(bind: profile.name), \(bind: profile.description),
                \(bind: profile.createdAt.milliseconds), \(bind: profile.updatedAt.milliseconds))
                """).run()
            try await SQLStore.deleteRules(of: OwnerColumns(.profile(tenantID: profile.tenantID, name: profile.name)), on: db)
            try await SQLStore.insertRules(rules, on: db)
        }
    }

    public func replaceProfile(_ profile: ProfileRecord) async throws -> Bool {
        let owner = RuleOwner.profile(tenantID: profile.tenantID, name: profile.name)
        let rules = try SQLStore.canonicalRules(profile.rules, of: owner)
        return try await transaction { db in
            guard try await db.raw("""
                UPDATE profiles SET description = \(bind: profile.description),
                updated_at = \(bind: profile.updatedAt.milliseconds)
                WHERE tenant_id = \(bind: profile.tenantID) AND name = \(bind: profile.name) RETURNING name
                """).first() != nil else { return false }
            try await SQLStore.deleteRules(of: OwnerColumns(owner), on: db)
            try await SQLStore.insertRules(rules, on: db)
            return true
        }
    }

    public func deleteProfile(tenantID: String, name: String) async throws -> Bool {
        try await transaction { db in
            try await SQLStore.deleteRules(of: OwnerColumns(.profile(tenantID: tenantID, name: name)), on: db)
            return try await db.raw(
                "DELETE FROM profiles WHERE tenant_id = \(bind: tenantID) AND name = \(bind: name) RETURNING name"
            ).first() != nil
        }
    }

    // MARK: Templates

    public func template(tenantID: String, name: String) async throws -> TemplateRecord? {
        try await run { db in
            guard let row = try await db.raw(
                "SELECT * FROM templates WHERE tenant_id = \(bind: tenantID) AND name = \(bind: name)").first() else { return nil }
            let rules = try await SQLStore.ownedRules(kind: "template", tenantID: tenantID, on: db)
            return try SQLStore.template(from: row, rules: rules)
        }
    }

    public func templates(tenantID: String) async throws -> [TemplateRecord] {
        try await run { db in
            let rows = try await db.raw("SELECT * FROM templates WHERE tenant_id = \(bind: tenantID) ORDER BY name").all()
            let rules = try await SQLStore.ownedRules(kind: "template", tenantID: tenantID, on: db)
            return try rows.map { row throws(StoreError) in try SQLStore.template(from: row, rules: rules) }
        }
    }

    public func createTemplate(_ template: TemplateRecord) async throws {
        let owner = RuleOwner.template(tenantID: template.tenantID, name: template.name)
        let rules = try SQLStore.canonicalRules(template.rules, of: owner)
        try await transaction { db in
            try await SQLStore.requireTenant(template.tenantID, on: db)
            if try await db.raw(
                "SELECT name FROM templates WHERE tenant_id = \(bind: template.tenantID) AND name = \(bind: template.name)"
            ).first() != nil {
                throw StoreError.templateNameTaken(template.name)
            }
            try await db.raw("""
                INSERT INTO templates (tenant_id, name, mode, profiles, created_at, updated_at) VALUES
                (\(bind: template.tenantID), \(bind: template.name), \(bind: template.mode?.rawValue),
                \(bind: JSONText.encode(template.profiles)), \(bind: template.createdAt.milliseconds),
                \(bind: template.updatedAt.milliseconds))
                """).run()
            try await SQLStore.deleteRules(of: OwnerColumns(owner), on: db)
            try await SQLStore.insertRules(rules, on: db)
        }
    }

    public func replaceTemplate(_ template: TemplateRecord) async throws -> Bool {
        let owner = RuleOwner.template(tenantID: template.tenantID, name: template.name)
        let rules = try SQLStore.canonicalRules(template.rules, of: owner)
        return try await transaction { db in
            guard try await db.raw("""
                UPDATE templates SET mode = \(bind: template.mode?.rawValue),
                profiles = \(bind: JSONText.encode(template.profiles)), updated_at = \(bind: template.updatedAt.milliseconds)
                WHERE tenant_id = \(bind: template.tenantID) AND name = \(bind: template.name) RETURNING name
                """).first() != nil else { return false }
            try await SQLStore.deleteRules(of: OwnerColumns(owner), on: db)
            try await SQLStore.insertRules(rules, on: db)
            return true
        }
    }

    public func deleteTemplate(tenantID: String, name: String) async throws -> Bool {
        try await transaction { db in
            try await SQLStore.deleteRules(of: OwnerColumns(.template(tenantID: tenantID, name: name)), on: db)
            return try await db.raw(
                "DELETE FROM templates WHERE tenant_id = \(bind: tenantID) AND name = \(bind: name) RETURNING name"
            ).first() != nil
        }
    }

    // MARK: Rows

    /// Rules of every profile (or template) of one tenant, or of all tenants, by owner.
    static func ownedRules(kind: String, tenantID: String?, on db: any SQLDatabase) async throws -> [RuleOwner: [StoredRule]] {
        var query = db.select().column("*").from("rules").where("owner_kind", .equal, kind)
        if let tenantID { query = query.where("owner_tenant", .equal, tenantID) }
        let rows = try await query.orderBy("owner_tenant").orderBy("owner_key").orderBy("position")
            .orderBy("created_at").orderBy("id").all()
        return try rulesByOwner(rows)
    }

    static func profile(from row: any SQLRow, rules: [RuleOwner: [StoredRule]]) throws(StoreError) -> ProfileRecord {
        let tenantID: String = try row.column("tenant_id")
        let name: String = try row.column("name")
        return ProfileRecord(tenantID: tenantID, name: name, description: try row.column("description"),
                             rules: rules[.profile(tenantID: tenantID, name: name)] ?? [],
                             createdAt: Timestamp(milliseconds: try row.column("created_at")),
                             updatedAt: Timestamp(milliseconds: try row.column("updated_at")))
    }

    static func template(from row: any SQLRow, rules: [RuleOwner: [StoredRule]]) throws(StoreError) -> TemplateRecord {
        let tenantID: String = try row.column("tenant_id")
        let name: String = try row.column("name")
        let mode: String? = try row.column("mode")
        return TemplateRecord(tenantID: tenantID, name: name, mode: try mode.map { m throws(StoreError) in try SQLStore.mode(m) },
                              rules: rules[.template(tenantID: tenantID, name: name)] ?? [],
                              profiles: try JSONText.decode(try row.column("profiles"), column: "profiles"),
                              createdAt: Timestamp(milliseconds: try row.column("created_at")),
                              updatedAt: Timestamp(milliseconds: try row.column("updated_at")))
    }
}
