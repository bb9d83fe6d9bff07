import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    func view(_ s: SandboxRecord) -> SandboxView {
        SandboxView(record: s, mode: s.ownMode ?? tenants[s.tenantID]?.defaultMode ?? .audit, proxy: proxy)
    }

    /// The caller's sandbox, or 404 (another tenant's sandbox is "not found" too).
    func sandbox(_ caller: Caller, _ id: String, notFound: ControlError = .sandboxNotFound) throws -> SandboxRecord {
        guard let s = sandboxes[id], s.tenantID == caller.tenantID else { throw notFound }
        return s
    }

    /// Validates source addresses: IP literals the policy lets a sandbox claim (400
    /// otherwise), each belonging to no other sandbox (409, naming that sandbox only when
    /// it is the caller's own).
    func checkSourceAddresses(_ texts: [String], sandboxID: String, tenantID: String) throws -> [String] {
        guard texts.count <= 64 else { throw ControlError.badRequest("source_addresses is limited to 64 addresses") }
        let own = texts.isEmpty ? [] : sourceAddressPolicy.ownAddresses()
        var out: [String] = []
        for (i, text) in texts.enumerated() {
            guard let a = HostParser.parseAddress(text) else {
                throw ControlError.badRequest("source_addresses[\(i)]: \(Escape.quoted(text)) is not an IP address")
            }
            if let why = sourceAddressPolicy.refusal(a, own: own) {
                throw ControlError.badRequest("source_addresses[\(i)]: \(why)")
            }
            let canonical = a.description
            if let owner = sandboxes.values.first(where: { $0.id != sandboxID && $0.sourceAddresses.contains(canonical) }) {
                guard owner.tenantID == tenantID else {
                    throw ControlError.conflict("address \(canonical) is already claimed by a sandbox of another tenant")
                }
                throw ControlError.conflict("address \(canonical) already belongs to sandbox \(owner.id)")
            }
            if !out.contains(canonical) { out.append(canonical) }
        }
        return out
    }

    /// Stored source addresses the policy no longer lets a sandbox claim (stored before an
    /// upgrade, or under a `--claimable` since removed): they identify nobody, and `serve`
    /// says so at start.
    public func unclaimableAddresses() -> [(sandboxID: String, address: String, reason: String)] {
        let own = sourceAddressPolicy.ownAddresses()
        var out: [(String, String, String)] = []
        for s in sandboxes.values.sorted(by: { $0.id < $1.id }) {
            for text in s.sourceAddresses {
                guard let a = HostParser.parseAddress(text), let why = sourceAddressPolicy.refusal(a, own: own) else { continue }
                out.append((s.id, text, why))
            }
        }
        return out
    }

    /// `POST /api/v1/sandboxes`: from a template or a clone (copied now), then create-time
    /// `network` (a non-empty allow list makes it allowlist, only deny makes it denylist),
    /// profiles and mode on top; the tenant's default profiles are attached.
    public func createSandbox(_ caller: Caller, _ input: SandboxCreateInput) async throws -> SandboxView {
        let tenant = try tenant(caller)
        if input.template != nil && input.cloneFrom != nil {
            throw ControlError.badRequest("give template or clone_from, not both")
        }
        if let name = input.name, name.count > 128 { throw ControlError.badRequest("name is limited to 128 characters") }
        let id = Identifiers.sandbox()
        var ownMode: Mode?
        var profiles = tenant.defaultProfiles
        var local: [StoredRule] = []
        if let templateName = input.template {
            guard let t = try await store.template(tenantID: caller.tenantID, name: templateName) else {
                throw ControlError.notFound("template \(Escape.escaped(templateName)) not found")
            }
            ownMode = t.mode
            profiles += t.profiles
            local = t.rules.enumerated().map { i, r in copy(r, to: .sandbox(id), position: i) }
        } else if let sourceID = input.cloneFrom {
            let source = try sandbox(caller, sourceID, notFound: .notFound("clone_from: sandbox not found"))
            ownMode = source.ownMode
            profiles += source.profiles
            local = (rules[.sandbox(source.id)] ?? []).enumerated().map { i, r in copy(r, to: .sandbox(id), position: i) }
        }
        let allow = input.networkAllow ?? [], deny = input.networkDeny ?? []
        for (list, action) in [(allow, "allow"), (deny, "deny")] {
            guard list.count <= 10_000 else { throw ControlError.badRequest("network.\(action) is limited to 10000 hosts") }
            for (i, host) in list.enumerated() {
                local.append(try makeRule(RuleDraft(action: action, host: host), owner: .sandbox(id), position: local.count,
                                          field: "network.\(action)[\(i)]"))
            }
        }
        if !allow.isEmpty { ownMode = .allowlist } else if !deny.isEmpty { ownMode = .denylist }
        if let p = input.networkProfile { profiles.append(p) }
        profiles += input.profiles ?? []
        profiles = try checkProfiles(profiles, tenantID: caller.tenantID)
        if let m = input.mode { ownMode = try parseMode(m) }
        let addresses = try checkSourceAddresses(input.sourceAddresses ?? [], sandboxID: id, tenantID: caller.tenantID)
        let t = now()
        let record = SandboxRecord(id: id, tenantID: caller.tenantID, name: input.name, ownMode: ownMode, profiles: profiles,
                                   sourceAddresses: addresses, proxyToken: Identifiers.proxyToken(), createdAt: t, updatedAt: t,
                                   certificateAuthority: try mintAuthority(sandboxID: id))
        let store = self.store, initial = local
        try await commit(.sandboxes([id])) { try await store.createSandbox(record, rules: initial) }
        return view(try applied(id))
    }

    func copy(_ r: StoredRule, to owner: RuleOwner, position: Int) -> StoredRule {
        var rule = r.rule
        rule.id = Identifiers.rule()
        rule.source = .local
        return StoredRule(rule: rule, owner: owner, createdAt: now(), position: position)
    }

    public func listSandboxes(_ caller: Caller, cursor: String?, limit: Int) throws -> (items: [SandboxView], nextCursor: String?) {
        guard (1...1000).contains(limit) else { throw ControlError.badRequest("limit must be between 1 and 1000") }
        let all = (sandboxesByTenant[caller.tenantID] ?? []).filter { id in cursor.map { id > $0 } ?? true }.sorted()
            .compactMap { sandboxes[$0] }
        let page = Array(all.prefix(limit))
        return (page.map(view), all.count > limit ? page.last?.id : nil)
    }

    public func getSandbox(_ caller: Caller, id: String) throws -> SandboxView {
        view(try sandbox(caller, id))
    }

    /// `PATCH`: name (nil leaves it; `clearName` removes it) and source addresses.
    public func updateSandbox(_ caller: Caller, id: String, name: String?, clearName: Bool, sourceAddresses: [String]?) async throws -> SandboxView {
        var s = try sandbox(caller, id)
        if let name {
            guard name.count <= 128 else { throw ControlError.badRequest("name is limited to 128 characters") }
            s.name = name
        } else if clearName {
            s.name = nil
        }
        if let sourceAddresses { s.sourceAddresses = try checkSourceAddresses(sourceAddresses, sandboxID: id, tenantID: caller.tenantID) }
        s.updatedAt = now()
        let store = self.store, record = s
        try await commit(.sandboxes([id])) {
            guard try await store.updateSandbox(record) else { throw ControlError.sandboxNotFound }
        }
        return view(try applied(id))
    }

    public func deleteSandbox(_ caller: Caller, id: String) async throws {
        _ = try sandbox(caller, id)
        let store = self.store
        try await commit(.sandboxes([id])) { _ = try await store.deleteSandbox(id: id) }
        unopenedAuthorities.remove(id)
    }
}
