import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// `GET /api/v1/sandboxes/{id}/network/policy` (get_policy).
    public func sandboxPolicy(_ caller: Caller, id: String) throws -> SandboxPolicyView {
        policyView(try sandbox(caller, id))
    }

    func policyView(_ s: SandboxRecord) -> SandboxPolicyView {
        let local = rules[.sandbox(s.id)] ?? []
        var effective = local
        for name in s.profiles { effective += storedRules(ofProfile: name, tenantID: s.tenantID) }
        effective += rules[.tenant(s.tenantID)] ?? []
        return SandboxPolicyView(
            sandboxID: s.id, mode: view(s).mode, ownMode: s.ownMode,
            allowRules: local.filter { $0.rule.action == .allow }, denyRules: local.filter { $0.rule.action == .deny },
            profiles: s.profiles, policyVersion: compiled[s.id]?.policy.version ?? version, updatedAt: s.updatedAt,
            effectiveAllow: effective.filter { $0.rule.action == .allow }, effectiveDeny: effective.filter { $0.rule.action == .deny })
    }

    /// Writes a sandbox's record, `also` (a rule added or removed) and, when given, its
    /// local rules, as one policy change; then answers from the applied state.
    func saveSandbox(_ s: SandboxRecord, rules newRules: [StoredRule]? = nil,
                     also: (@Sendable () async throws -> Void)? = nil) async throws -> SandboxPolicyView {
        var s = s
        s.updatedAt = now()
        let store = self.store, record = s
        try await commit(.sandboxes([s.id])) {
            try await also?()
            if let newRules { try await store.replaceRules(of: .sandbox(record.id), with: newRules) }
            guard try await store.updateSandbox(record) else { throw ControlError.sandboxNotFound }
        }
        return policyView(try applied(s.id))
    }

    /// A sandbox as the cache has it after a change (404 when a concurrent delete won).
    func applied(_ id: String, notFound: ControlError = .sandboxNotFound) throws -> SandboxRecord {
        guard let s = sandboxes[id] else { throw notFound }
        return s
    }

    /// `PUT …/network/policy`: replaces own mode, local rules and attached profiles from an
    /// exported policy.
    public func replaceSandboxPolicy(_ caller: Caller, id: String, _ input: ExportedPolicyInput) async throws -> SandboxPolicyView {
        var s = try sandbox(caller, id)
        let newRules = Self.keepingIDs(try makeRules(allow: input.allowRules, deny: input.denyRules, owner: .sandbox(id)),
                                       of: rules[.sandbox(id)] ?? [])
        s.ownMode = try ownMode(input, tenantID: s.tenantID)
        s.profiles = try checkProfiles(input.profiles ?? [], tenantID: caller.tenantID)
        try refuseOpaqueProfiles(s.profiles, sandbox: s)
        return try await saveSandbox(s, rules: newRules)
    }

    /// `POST …/network/rules`: adds one local rule (an identical rule is returned, not duplicated).
    public func addSandboxRule(_ caller: Caller, id: String, _ draft: RuleDraft) async throws -> StoredRule {
        let s = try sandbox(caller, id)
        let existing = rules[.sandbox(id)] ?? []
        let new = try makeRule(draft, owner: .sandbox(id), position: (existing.map(\.position).max() ?? -1) + 1, field: "")
        if let same = existing.first(where: { Self.sameRule($0.rule, new.rule) }) { return same }
        let store = self.store
        _ = try await saveSandbox(s, also: { try await store.addRule(new) })
        return new
    }

    /// `DELETE …/network/rules/{rule_id}`: only local rules can be removed here.
    public func deleteSandboxRule(_ caller: Caller, id: String, ruleID: String) async throws {
        let s = try sandbox(caller, id)
        guard (rules[.sandbox(id)] ?? []).contains(where: { $0.rule.id == ruleID }) else {
            let view = policyView(s)
            if let r = (view.effectiveAllow + view.effectiveDeny).first(where: { $0.rule.id == ruleID }) {
                throw ControlError.conflict(Self.notRemovableHere(r.rule, sandboxID: id))
            }
            throw ControlError.notFound("rule not found")
        }
        let store = self.store
        _ = try await saveSandbox(s, also: { _ = try await store.deleteRule(id: ruleID, of: .sandbox(id)) })
    }

    /// Why a rule that applies to a sandbox through another layer cannot be removed from
    /// it, and where it can be: a tenant rule for the whole tenant, a profile rule by
    /// detaching the profile (or changing a tenant profile).
    static func notRemovableHere(_ rule: Rule, sandboxID: String) -> String {
        switch rule.source {
        case .tenant:
            return "rule \(rule.id) comes from tenant and cannot be removed from the sandbox: it applies to every sandbox of the tenant; "
                + "remove it there with portcullis policy rm network --id \(rule.id) --tenant (DELETE /api/v1/network/rules/\(rule.id))"
        case .profile(let name):
            return "rule \(rule.id) comes from profile:\(name) and cannot be removed from the sandbox: "
                + "detach the profile (DELETE /api/v1/sandboxes/\(sandboxID)/network/profiles/\(name)) or change the profile"
        case .local:
            return "rule \(rule.id) cannot be removed from the sandbox"
        }
    }

    /// `DELETE …/network/rules` (clear_rules): the only way local rules disappear in bulk.
    public func clearSandboxRules(_ caller: Caller, id: String) async throws -> SandboxPolicyView {
        try await saveSandbox(try sandbox(caller, id), rules: [])
    }

    /// `POST …/network/lockdown`: switch to allowlist, keeping rules; `hosts` adds allow rules
    /// for exactly those hosts, `fromSuggestions` for every suggested host not recommended deny.
    /// Lockdown never widens: a host that an allow rule of any layer covers only for some
    /// ports, methods or paths gets no rule, since an unrestricted rule for it would be
    /// broader than the one the operator wrote. A host a local rule already allows gets none
    /// either; one only the tenant or a profile allows (unrestricted) gets its local rule, so
    /// the sandbox's allowlist holds exactly the hosts named, whatever other layers do later.
    public func lockdownSandbox(_ caller: Caller, id: String, hosts: [String]?, fromSuggestions: String?) async throws -> SandboxPolicyView {
        var s = try sandbox(caller, id)
        var wanted = hosts ?? []
        guard wanted.count <= 1000 else { throw ControlError.badRequest("hosts is limited to 1000 entries") }
        if let window = fromSuggestions {
            wanted += try await suggestions(caller, id: id, since: window).report.hostsToAllow
        }
        let allows = policyView(s).effectiveAllow.map(\.rule)
        var local = rules[.sandbox(id)] ?? []
        for (i, host) in wanted.enumerated() {
            // Exactly the hosts named: one name or IP address each, never a wildcard or a range.
            guard (try? HostParser.parseTarget(host)) != nil else {
                let field = i < (hosts?.count ?? 0) ? "hosts[\(i)]" : "from_suggestions"
                throw ControlError.badRequest("\(field) must be one host name or IP address, not \(Escape.quoted(host)): lockdown "
                                              + "allows exactly the hosts named (a wildcard or an address range is a rule of its own)")
            }
            let rule = try makeRule(RuleDraft(action: "allow", host: host), owner: .sandbox(id),
                                    position: (local.map(\.position).max() ?? -1) + 1, field: i < (hosts?.count ?? 0) ? "hosts[\(i)]" : "from_suggestions")
            let covering = allows.filter { rule.rule.host.isWithin($0.host) }
            if covering.contains(where: { $0.port != nil || $0.restrictsEndpoint }) { continue }
            if local.contains(where: { rule.rule.host.isWithin($0.rule.host) && $0.rule.action == .allow }) { continue }
            local.append(rule)
        }
        s.ownMode = .allowlist
        return try await saveSandbox(s, rules: local)
    }

    /// `POST …/network/observe`: back to audit, rules kept.
    public func observeSandbox(_ caller: Caller, id: String) async throws -> SandboxPolicyView {
        var s = try sandbox(caller, id)
        s.ownMode = .audit
        return try await saveSandbox(s)
    }

    /// `POST …/network/profiles/{name}` (idempotent).
    public func attachProfile(_ caller: Caller, id: String, profile name: String) async throws -> SandboxPolicyView {
        var s = try sandbox(caller, id)
        _ = try checkProfiles([name], tenantID: caller.tenantID)
        if !s.profiles.contains(name) {
            try refuseOpaqueProfiles([name], sandbox: s)
            s.profiles.append(name)
        }
        return try await saveSandbox(s)
    }

    /// 400 when a profile's rules would keep the host of a credential attached to the
    /// sandbox opaque (`inspect: false`).
    func refuseOpaqueProfiles(_ names: [String], sandbox s: SandboxRecord) throws {
        for name in names {
            let rules = storedRules(ofProfile: name, tenantID: s.tenantID).map { var r = $0.rule; r.source = .profile(name); return r }
            if let refusal = opaqueConflict(rules: rules, sandboxID: s.id) { throw ControlError.badRequest(refusal) }
        }
    }

    /// `DELETE …/network/profiles/{name}` (idempotent for a known profile).
    public func detachProfile(_ caller: Caller, id: String, profile name: String) async throws -> SandboxPolicyView {
        var s = try sandbox(caller, id)
        guard s.profiles.contains(name) || profile(tenantID: caller.tenantID, name: name) != nil else {
            throw ControlError.notFound("profile \(Escape.escaped(name)) not found")
        }
        s.profiles.removeAll { $0 == name }
        return try await saveSandbox(s)
    }
}
