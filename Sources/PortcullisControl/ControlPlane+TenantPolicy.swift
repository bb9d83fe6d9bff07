import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    func tenantView(_ t: TenantRecord) -> TenantPolicyView {
        let r = rules[.tenant(t.id)] ?? []
        return TenantPolicyView(tenantID: t.id, defaultMode: t.defaultMode, defaultProfiles: t.defaultProfiles,
                                allowRules: r.filter { $0.rule.action == .allow }, denyRules: r.filter { $0.rule.action == .deny },
                                policyVersion: version, updatedAt: t.updatedAt)
    }

    /// Writes the tenant's record, `also` and, when given, its tenant-wide rules as one
    /// policy change; then answers from the applied state.
    func saveTenant(_ t: TenantRecord, rules newRules: [StoredRule]? = nil,
                    also: (@Sendable () async throws -> Void)? = nil) async throws -> TenantPolicyView {
        var t = t
        t.updatedAt = now()
        let store = self.store, record = t
        try await commit(.tenant(t.id)) {
            try await also?()
            if let newRules { try await store.replaceRules(of: .tenant(record.id), with: newRules) }
            try await store.updateTenant(record)
        }
        guard let applied = tenants[t.id] else { throw ControlError.unauthorized }
        return tenantView(applied)
    }

    /// `GET /api/v1/network/policy`.
    public func tenantPolicy(_ caller: Caller) throws -> TenantPolicyView { tenantView(try tenant(caller)) }

    /// `PUT /api/v1/network/policy`: replaces default mode (missing: audit), default profiles
    /// and tenant-wide rules.
    public func replaceTenantPolicy(_ caller: Caller, _ input: TenantPolicyInput) async throws -> TenantPolicyView {
        var t = try tenant(caller)
        let newRules = Self.keepingIDs(try makeRules(allow: input.allowRules, deny: input.denyRules, owner: .tenant(t.id)),
                                       of: rules[.tenant(t.id)] ?? [])
        t.defaultMode = try input.defaultMode.map { try parseMode($0, field: "default_mode") } ?? .audit
        t.defaultProfiles = try checkProfiles(input.defaultProfiles ?? [], tenantID: t.id)
        return try await saveTenant(t, rules: newRules)
    }

    /// `POST /api/v1/network/rules`.
    public func addTenantRule(_ caller: Caller, _ draft: RuleDraft) async throws -> StoredRule {
        let t = try tenant(caller)
        let existing = rules[.tenant(t.id)] ?? []
        let new = try makeRule(draft, owner: .tenant(t.id), position: (existing.map(\.position).max() ?? -1) + 1, field: "")
        if let same = existing.first(where: { Self.sameRule($0.rule, new.rule) }) { return same }
        let store = self.store
        _ = try await saveTenant(t, also: { try await store.addRule(new) })
        return new
    }

    /// `DELETE /api/v1/network/rules/{rule_id}`.
    public func deleteTenantRule(_ caller: Caller, ruleID: String) async throws {
        let t = try tenant(caller)
        guard (rules[.tenant(t.id)] ?? []).contains(where: { $0.rule.id == ruleID }) else { throw ControlError.notFound("rule not found") }
        let store = self.store, owner = RuleOwner.tenant(t.id)
        _ = try await saveTenant(t, also: { _ = try await store.deleteRule(id: ruleID, of: owner) })
    }

    /// `POST /api/v1/network/lockdown` / `observe`: the tenant default; sandboxes without
    /// their own mode follow.
    public func setTenantMode(_ caller: Caller, _ mode: Mode) async throws -> TenantPolicyView {
        var t = try tenant(caller)
        t.defaultMode = mode
        return try await saveTenant(t)
    }
}
