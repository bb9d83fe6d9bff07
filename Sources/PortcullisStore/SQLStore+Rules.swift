import PortcullisModel
import PortcullisPolicy
import SQLKit

extension SQLStore {
    static let ruleOrder = "position, created_at, id"

    public func rules(of owner: RuleOwner) async throws -> [StoredRule] {
        let o = OwnerColumns(owner)
        return try await run { db in
            try await db.raw("""
                SELECT * FROM rules WHERE owner_kind = \(bind: o.kind) AND owner_tenant = \(bind: o.tenant)
                AND owner_key = \(bind: o.key) ORDER BY \(unsafeRaw: SQLStore.ruleOrder)
                """).all().map(SQLStore.rule(from:))
        }
    }

    public func allRules() async throws -> [StoredRule] {
        try await run { db in
            try await db.raw("SELECT * FROM rules ORDER BY owner_kind, owner_tenant, owner_key, \(unsafeRaw: SQLStore.ruleOrder)")
                .all().map(SQLStore.rule(from:))
        }
    }

    public func addRule(_ rule: StoredRule) async throws {
        let stored = try rule.canonical()
        let o = OwnerColumns(rule.owner)
        try await transaction { db in
            if try await db.raw("""
                SELECT id FROM rules WHERE owner_kind = \(bind: o.kind) AND owner_tenant = \(bind: o.tenant)
                AND owner_key = \(bind: o.key) AND id = \(bind: stored.rule.id)
                """).first() != nil {
                throw StoreError.ruleExists(stored.rule.id)
            }
            try await SQLStore.insertRules([stored], on: db)
        }
    }

    public func deleteRule(id: String, of owner: RuleOwner) async throws -> Bool {
        let o = OwnerColumns(owner)
        return try await run { db in
            try await db.raw("""
                DELETE FROM rules WHERE owner_kind = \(bind: o.kind) AND owner_tenant = \(bind: o.tenant)
                AND owner_key = \(bind: o.key) AND id = \(bind: id) RETURNING id
                """).first() != nil
        }
    }

    public func replaceRules(of owner: RuleOwner, with rules: [StoredRule]) async throws {
        let stored = try SQLStore.canonicalRules(rules, of: owner)
        try await transaction { db in
            try await SQLStore.deleteRules(of: OwnerColumns(owner), on: db)
            try await SQLStore.insertRules(stored, on: db)
        }
    }

    // MARK: Rows

    /// The rules as `owner` stores them: owned by it, canonical, unique by id.
    static func canonicalRules(_ rules: [StoredRule], of owner: RuleOwner) throws(StoreError) -> [StoredRule] {
        var ids: Set<String> = []
        return try rules.map { r throws(StoreError) in
            guard ids.insert(r.rule.id).inserted else { throw StoreError.ruleExists(r.rule.id) }
            var r = r
            r.owner = owner
            return try r.canonical()
        }
    }

    static func deleteRules(of o: OwnerColumns, on db: any SQLDatabase) async throws {
        try await db.raw("""
            DELETE FROM rules WHERE owner_kind = \(bind: o.kind) AND owner_tenant = \(bind: o.tenant)
            AND owner_key = \(bind: o.key)
            """).run()
    }

    static let ruleColumns = ["owner_kind", "owner_tenant", "owner_key", "id", "position", "action", "host", "port",
                              "protocol", "methods", "paths", "warn_only", "except_hosts", "note", "created_at", "inspect"]

    /// Inserts rules (already canonical), many to a statement.
    static func insertRules(_ rules: [StoredRule], on db: any SQLDatabase) async throws {
        var start = 0
        while start < rules.count {
            let chunk = rules[start..<min(start + 500, rules.count)]
            var insert = db.insert(into: "rules").columns(ruleColumns)
            for stored in chunk {
                let o = OwnerColumns(stored.owner)
                let text = RuleText(stored.rule)
                insert = insert.values([
                    o.kind, o.tenant, o.key, text.id, stored.position, text.action, text.host, text.port,
                    text.transport, text.methods.map(JSONText.encode), text.paths.map(JSONText.encode), text.warnOnly,
                    JSONText.encode(text.except), text.note, stored.createdAt.milliseconds, text.inspect,
                ])
            }
            try await insert.run()
            start += chunk.count
        }
    }

    static func rule(from row: any SQLRow) throws(StoreError) -> StoredRule {
        let owner = try OwnerColumns(kind: try row.column("owner_kind"), tenant: try row.column("owner_tenant"),
                                     key: try row.column("owner_key")).owner()
        let methods: String? = try row.column("methods")
        let paths: String? = try row.column("paths")
        let text = RuleText(
            id: try row.column("id"), action: try row.column("action"), host: try row.column("host"),
            port: try row.column("port"), transport: try row.column("protocol"),
            methods: try methods.map { m throws(StoreError) in try JSONText.decode(m, column: "methods") },
            paths: try paths.map { p throws(StoreError) in try JSONText.decode(p, column: "paths") },
            warnOnly: try row.column("warn_only"), inspect: try row.column("inspect"),
            except: try JSONText.decode(try row.column("except_hosts"), column: "except_hosts"),
            note: try row.column("note"))
        return StoredRule(rule: try text.rule(source: owner.ruleSource), owner: owner,
                          createdAt: Timestamp(milliseconds: try row.column("created_at")),
                          position: try row.column("position"))
    }

    /// Rules rows grouped by owner, each group in position order.
    static func rulesByOwner(_ rows: [any SQLRow]) throws(StoreError) -> [RuleOwner: [StoredRule]] {
        var out: [RuleOwner: [StoredRule]] = [:]
        for row in rows {
            let rule = try rule(from: row)
            out[rule.owner, default: []].append(rule)
        }
        return out
    }
}
