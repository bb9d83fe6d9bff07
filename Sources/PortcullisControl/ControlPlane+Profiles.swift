import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    func profileView(_ name: String, tenantID: String) -> ProfileView? {
        if let builtin = BuiltinProfiles.named(name) {
            return ProfileView(name: name, builtin: true, description: builtin.description, rules: storedRules(ofProfile: name, tenantID: tenantID))
        }
        guard let p = tenantProfiles[tenantID]?[name] else { return nil }
        return ProfileView(name: name, builtin: false, description: p.description, rules: p.rules)
    }

    /// `GET /api/v1/profiles`: built-in ones first, then the tenant's, by name.
    public func listProfiles(_ caller: Caller) -> [ProfileView] {
        BuiltinProfiles.all.compactMap { profileView($0.name, tenantID: caller.tenantID) }
            + (tenantProfiles[caller.tenantID] ?? [:]).keys.sorted().compactMap { profileView($0, tenantID: caller.tenantID) }
    }

    public func getProfile(_ caller: Caller, name: String) throws -> ProfileView {
        guard let v = profileView(name, tenantID: caller.tenantID) else { throw ControlError.notFound("profile \(Escape.escaped(name)) not found") }
        return v
    }

    func checkNotBuiltin(_ name: String) throws {
        if BuiltinProfiles.named(name) != nil { throw ControlError.conflict("profile \(name) is built in and cannot be changed") }
    }

    func profileRules(_ drafts: [RuleDraft], tenantID: String, name: String) throws -> [StoredRule] {
        guard drafts.count <= 10_000 else { throw ControlError.badRequest("rules is limited to 10000 rules") }
        return try drafts.enumerated().map { i, d in
            try makeRule(d, owner: .profile(tenantID: tenantID, name: name), position: i, field: "rules[\(i)]")
        }
    }

    /// `POST /api/v1/profiles/{name}`.
    public func createProfile(_ caller: Caller, name: String, description: String?, rules drafts: [RuleDraft]) async throws -> ProfileView {
        try checkNotBuiltin(name)
        do { try Profile.validateName(name) } catch { throw ControlError.badRequest(error.message) }
        if tenantProfiles[caller.tenantID]?[name] != nil { throw ControlError.conflict("profile \(name) already exists") }
        let t = now()
        let record = ProfileRecord(tenantID: caller.tenantID, name: name, description: description,
                                   rules: try profileRules(drafts, tenantID: caller.tenantID, name: name), createdAt: t, updatedAt: t)
        let store = self.store
        do { try await commit(.tenant(caller.tenantID)) { try await store.createProfile(record) } } catch let e as ControlError where e.status == 409 {
            throw ControlError.conflict("profile \(name) already exists")
        }
        return try appliedProfile(name, tenantID: caller.tenantID)
    }

    /// `PUT /api/v1/profiles/{name}`: live — every sandbox using it changes at once.
    public func replaceProfile(_ caller: Caller, name: String, description: String?, rules drafts: [RuleDraft]) async throws -> ProfileView {
        try checkNotBuiltin(name)
        guard var record = tenantProfiles[caller.tenantID]?[name] else { throw ControlError.notFound("profile \(Escape.escaped(name)) not found") }
        record.description = description
        record.rules = try profileRules(drafts, tenantID: caller.tenantID, name: name)
        record.updatedAt = now()
        let store = self.store, replaced = record
        try await commit(.tenant(caller.tenantID)) {
            guard try await store.replaceProfile(replaced) else { throw ControlError.notFound("profile \(Escape.escaped(name)) not found") }
        }
        return try appliedProfile(name, tenantID: caller.tenantID)
    }

    /// A profile as the cache has it after a change (404 when a concurrent delete won).
    func appliedProfile(_ name: String, tenantID: String) throws -> ProfileView {
        guard let v = profileView(name, tenantID: tenantID) else { throw ControlError.notFound("profile \(Escape.escaped(name)) not found") }
        return v
    }

    /// `DELETE /api/v1/profiles/{name}`: refused while a sandbox or the tenant defaults use it.
    public func deleteProfile(_ caller: Caller, name: String) async throws {
        try checkNotBuiltin(name)
        guard tenantProfiles[caller.tenantID]?[name] != nil else { throw ControlError.notFound("profile \(Escape.escaped(name)) not found") }
        if let user = sandboxes.values.first(where: { $0.tenantID == caller.tenantID && $0.profiles.contains(name) }) {
            throw ControlError.conflict("profile \(name) is attached to sandbox \(user.id); detach it first")
        }
        if tenants[caller.tenantID]?.defaultProfiles.contains(name) == true {
            throw ControlError.conflict("profile \(name) is one of the tenant's default profiles; remove it there first")
        }
        let store = self.store, tenantID = caller.tenantID
        try await commit(.tenant(tenantID)) { _ = try await store.deleteProfile(tenantID: tenantID, name: name) }
    }
}
