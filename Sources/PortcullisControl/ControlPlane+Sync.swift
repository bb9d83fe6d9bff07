import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// Reads everything from the store into the cache, compiles every sandbox and
    /// publishes. The version is read first: data newer than it is fine, older is not.
    func loadAll() async throws {
        let newest = try await store.policyVersion()
        let tenantList = try await store.tenants()
        let sandboxList = try await store.allSandboxes()
        let ruleList = try await store.allRules()
        let profileList = try await store.allProfiles()
        let credentialList = try await store.allCredentials()
        let attachmentList = try await store.allAttachments()
        tenants = Dictionary(uniqueKeysWithValues: tenantList.map { ($0.id, $0) })
        sandboxes = [:]
        sandboxesByTenant = [:]
        bySource = [:]
        ownAddressSnapshot = sourceAddressPolicy.ownAddresses()
        for s in sandboxList { cache(s) }
        rules = [:]
        for r in ruleList {
            switch r.owner {
            case .sandbox, .tenant: rules[r.owner, default: []].append(r)
            case .profile, .template: continue
            }
        }
        for key in rules.keys { rules[key]?.sort { $0.position < $1.position } }
        tenantProfiles = [:]
        for p in profileList { tenantProfiles[p.tenantID, default: [:]][p.name] = p }
        credentials = Dictionary(uniqueKeysWithValues: credentialList.map { ($0.id, $0) })
        openedValues = openedValues.filter { credentials[$0.key]?.sealedValue == $0.value.sealed }
        unopenedCredentials = []
        attachments = Dictionary(grouping: attachmentList, by: \.sandboxID)
        version = max(version, newest)
        layerCache = LayerCache()
        compiled = [:]
        for id in sandboxes.keys { compile(id) }
        publishSnapshot()
        appliedHandler?(version)
    }

    /// Brings the cache up to the database's newest policy version: reads the change log
    /// after the applied version, reloads what it names, recompiles only the sandboxes
    /// whose policy that changes, publishes, and returns the version applied. One at a time.
    @discardableResult
    public func catchUp() async throws -> UInt64 {
        await catchUpLock.acquire()
        do {
            while try await applyNextChanges() {}
            await catchUpLock.release()
        } catch {
            await catchUpLock.release()
            throw error
        }
        return version
    }

    /// Catches up when the database is ahead of this node (one cheap read), so a request to
    /// any node sees every change committed before it, wherever it was made.
    public func syncIfBehind() async throws {
        if try await store.policyVersion() > version { try await catchUp() }
    }

    /// Applies one page of the change log; true when there may be more.
    private func applyNextChanges() async throws -> Bool {
        let page = 5_000
        let log = try await store.policyChanges(after: version, limit: page)
        if log.incomplete {
            try await loadAll()
            return false
        }
        guard let newest = log.changes.last?.version, newest > version else { return false }
        var tenantIDs = Set<String>()
        var sandboxIDs = Set<String>()
        for change in log.changes {
            if let t = change.scope.tenantID { tenantIDs.insert(t) }
            sandboxIDs.formUnion(change.scope.sandboxIDs)
        }
        // Read everything first; the cache changes only once all of it is in hand, with no
        // suspension in between, so a failed read leaves the cache as it was.
        var tenantData: [(String, TenantRecord?, [StoredRule], [ProfileRecord], [CredentialRecord])] = []
        for t in tenantIDs.sorted() {
            let record = try await store.tenant(id: t)
            let tenantRules = try await store.rules(of: .tenant(t))
            let profiles = try await store.profiles(tenantID: t)
            let tenantCredentials = try await store.credentials(tenantID: t)
            tenantData.append((t, record, tenantRules, profiles, tenantCredentials))
        }
        var sandboxData: [(String, SandboxRecord?, [StoredRule], [CredentialAttachment])] = []
        for id in sandboxIDs.sorted() {
            let record = try await store.sandbox(id: id)
            let localRules = record == nil ? [] : try await store.rules(of: .sandbox(id))
            let attached = record == nil ? [] : try await store.attachments(sandboxID: id)
            sandboxData.append((id, record, localRules, attached))
        }

        var affected = Set<String>()
        for (t, record, tenantRules, profiles, tenantCredentials) in tenantData {
            let old = tenants[t]
            tenants[t] = record
            let oldRules = rules[.tenant(t)] ?? []
            rules[.tenant(t)] = tenantRules.isEmpty ? nil : tenantRules
            let oldProfiles = tenantProfiles[t] ?? [:]
            let newProfiles = Dictionary(uniqueKeysWithValues: profiles.map { ($0.name, $0) })
            tenantProfiles[t] = newProfiles.isEmpty ? nil : newProfiles
            let members = sandboxesByTenant[t] ?? []
            if old?.defaultMode != record?.defaultMode || oldRules != tenantRules || record == nil {
                layerCache.dropTenant(t)
                affected.formUnion(members)
            }
            let changedProfiles = Set(oldProfiles.keys).union(newProfiles.keys).filter { oldProfiles[$0] != newProfiles[$0] }
            for name in changedProfiles {
                layerCache.dropProfile(tenantID: t, name: name)
                affected.formUnion(members.filter { sandboxes[$0]?.profiles.contains(name) == true })
            }
            // A changed or deleted credential: every sandbox that attaches it (a deletion's
            // attachments are gone from the store; the change names those sandboxes too).
            let changedCredentials = recache(credentialsOf: t, tenantCredentials)
            if !changedCredentials.isEmpty {
                affected.formUnion(members.filter { id in attachments[id]?.contains { changedCredentials.contains($0.credentialID) } == true })
            }
        }
        if !sandboxData.isEmpty { ownAddressSnapshot = sourceAddressPolicy.ownAddresses() }
        for (id, record, localRules, attached) in sandboxData {
            uncache(id)
            layerCache.dropLocal(id)
            if let record {
                cache(record)
                rules[.sandbox(id)] = localRules.isEmpty ? nil : localRules
                attachments[id] = attached.isEmpty ? nil : attached
            } else {
                rules[.sandbox(id)] = nil
                attachments[id] = nil
            }
            affected.insert(id)
        }
        version = newest
        for id in affected { compile(id) }
        publishSnapshot()
        appliedHandler?(version)
        return log.changes.count >= page
    }

    /// Puts a sandbox record in the cache and its indexes.
    func cache(_ s: SandboxRecord) {
        sandboxes[s.id] = s
        sandboxesByTenant[s.tenantID, default: []].insert(s.id)
        for text in s.sourceAddresses {
            // An address stored before it became unclaimable (an upgrade, a removed
            // --claimable) identifies nobody: fail closed (see `unclaimableAddresses`).
            if let a = HostParser.parseAddress(text), sourceAddressPolicy.refusal(a, own: ownAddressSnapshot) == nil { bySource[a] = s.id }
        }
    }

    /// Takes a sandbox out of the cache and its indexes.
    func uncache(_ id: String) {
        guard let old = sandboxes.removeValue(forKey: id) else { return }
        sandboxesByTenant[old.tenantID]?.remove(id)
        for text in old.sourceAddresses {
            if let a = HostParser.parseAddress(text), bySource[a] == id { bySource[a] = nil }
        }
    }

    /// A sandbox's compiled policy from its layers: its own rules compiled now, its profiles
    /// and its tenant's rules compiled once and shared by every sandbox that uses them.
    func compiledPolicy(for s: SandboxRecord) -> CompiledPolicy {
        var layers = [layerCache.local(s.id) { rules[.sandbox(s.id)] ?? [] }]
        var seen = Set<String>()
        for name in s.profiles where seen.insert(name).inserted {
            if let layer = layerCache.profile(tenantID: s.tenantID, name: name, { profile(tenantID: s.tenantID, name: name) }) {
                layers.append(layer)
            }
        }
        layers.append(layerCache.tenant(s.tenantID) { rules[.tenant(s.tenantID)] ?? [] })
        return CompiledPolicy(mode: s.ownMode ?? tenants[s.tenantID]?.defaultMode ?? .audit, layers: layers, version: version,
                              addressGuard: addressGuard)
    }
}

/// Compiled rule layers, each compiled once and shared: a tenant's rules by every sandbox
/// of the tenant, a profile by every sandbox that attaches it.
struct LayerCache {
    private var tenants: [String: RuleLayer] = [:]
    private var profiles: [String: [String: RuleLayer]] = [:]
    private var locals: [String: RuleLayer] = [:]

    mutating func tenant(_ id: String, _ rules: () -> [StoredRule]) -> RuleLayer {
        if let l = tenants[id] { return l }
        let l = RuleLayer(rules: rules().map { var r = $0.rule; r.source = .tenant; return r })
        tenants[id] = l
        return l
    }

    mutating func profile(tenantID: String, name: String, _ profile: () -> Profile?) -> RuleLayer? {
        if let l = profiles[tenantID]?[name] { return l }
        guard let p = profile() else { return nil }
        let l = RuleLayer(rules: p.rules.map { var r = $0; r.source = .profile(name); return r })
        profiles[tenantID, default: [:]][name] = l
        return l
    }

    mutating func local(_ id: String, _ rules: () -> [StoredRule]) -> RuleLayer {
        if let l = locals[id] { return l }
        let l = RuleLayer(rules: rules().map { var r = $0.rule; r.source = .local; return r })
        locals[id] = l
        return l
    }

    mutating func dropTenant(_ id: String) { tenants[id] = nil }
    mutating func dropProfile(tenantID: String, name: String) { profiles[tenantID]?[name] = nil }
    mutating func dropLocal(_ id: String) { locals[id] = nil }
}
