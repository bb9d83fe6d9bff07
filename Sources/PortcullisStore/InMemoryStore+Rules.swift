import PortcullisModel
import PortcullisPolicy

extension InMemoryStore {
    public func rules(of owner: RuleOwner) async throws -> [StoredRule] { rulesByOwner[OwnerColumns(owner)] ?? [] }

    public func allRules() async throws -> [StoredRule] {
        rulesByOwner.keys.sorted().flatMap { rulesByOwner[$0] ?? [] }
    }

    public func addRule(_ rule: StoredRule) async throws {
        let key = OwnerColumns(rule.owner)
        var list = rulesByOwner[key] ?? []
        guard !list.contains(where: { $0.rule.id == rule.rule.id }) else { throw StoreError.ruleExists(rule.rule.id) }
        list.append(try rule.canonical())
        rulesByOwner[key] = list.sorted(by: StoredRule.positionOrder)
    }

    public func deleteRule(id: String, of owner: RuleOwner) async throws -> Bool {
        let key = OwnerColumns(owner)
        guard var list = rulesByOwner[key], let i = list.firstIndex(where: { $0.rule.id == id }) else { return false }
        list.remove(at: i)
        rulesByOwner[key] = list.isEmpty ? nil : list
        return true
    }

    public func replaceRules(of owner: RuleOwner, with rules: [StoredRule]) async throws {
        let stored = try canonicalRules(rules, of: owner)
        rulesByOwner[OwnerColumns(owner)] = stored.isEmpty ? nil : stored
    }

    /// The rules as `owner` stores them: owned by it, canonical, unique by id, in order.
    func canonicalRules(_ rules: [StoredRule], of owner: RuleOwner) throws(StoreError) -> [StoredRule] {
        var ids: Set<String> = []
        var out: [StoredRule] = []
        for var rule in rules {
            guard ids.insert(rule.rule.id).inserted else { throw StoreError.ruleExists(rule.rule.id) }
            rule.owner = owner
            out.append(try rule.canonical())
        }
        return out.sorted(by: StoredRule.positionOrder)
    }

    // MARK: Profiles

    public func profile(tenantID: String, name: String) async throws -> ProfileRecord? {
        profilesByKey[NameKey(tenantID: tenantID, name: name)].map(withRules)
    }

    public func profiles(tenantID: String) async throws -> [ProfileRecord] {
        profilesByKey.keys.filter { $0.tenantID == tenantID }.sorted().compactMap { profilesByKey[$0].map(withRules) }
    }

    public func allProfiles() async throws -> [ProfileRecord] {
        profilesByKey.keys.sorted().compactMap { profilesByKey[$0].map(withRules) }
    }

    public func createProfile(_ profile: ProfileRecord) async throws {
        guard tenantsByID[profile.tenantID] != nil else { throw StoreError.unknownTenant(profile.tenantID) }
        let key = NameKey(tenantID: profile.tenantID, name: profile.name)
        guard profilesByKey[key] == nil else { throw StoreError.profileNameTaken(profile.name) }
        let owner = RuleOwner.profile(tenantID: profile.tenantID, name: profile.name)
        let rules = try canonicalRules(profile.rules, of: owner)
        var bare = profile
        bare.rules = []
        profilesByKey[key] = bare
        rulesByOwner[OwnerColumns(owner)] = rules.isEmpty ? nil : rules
    }

    public func replaceProfile(_ profile: ProfileRecord) async throws -> Bool {
        let key = NameKey(tenantID: profile.tenantID, name: profile.name)
        guard var stored = profilesByKey[key] else { return false }
        let owner = RuleOwner.profile(tenantID: profile.tenantID, name: profile.name)
        let rules = try canonicalRules(profile.rules, of: owner)
        stored.description = profile.description
        stored.updatedAt = profile.updatedAt
        profilesByKey[key] = stored
        rulesByOwner[OwnerColumns(owner)] = rules.isEmpty ? nil : rules
        return true
    }

    public func deleteProfile(tenantID: String, name: String) async throws -> Bool {
        guard profilesByKey.removeValue(forKey: NameKey(tenantID: tenantID, name: name)) != nil else { return false }
        rulesByOwner[OwnerColumns(.profile(tenantID: tenantID, name: name))] = nil
        return true
    }

    private func withRules(_ profile: ProfileRecord) -> ProfileRecord {
        var p = profile
        p.rules = rulesByOwner[OwnerColumns(.profile(tenantID: p.tenantID, name: p.name))] ?? []
        return p
    }

    // MARK: Templates

    public func template(tenantID: String, name: String) async throws -> TemplateRecord? {
        templatesByKey[NameKey(tenantID: tenantID, name: name)].map(withRules)
    }

    public func templates(tenantID: String) async throws -> [TemplateRecord] {
        templatesByKey.keys.filter { $0.tenantID == tenantID }.sorted().compactMap { templatesByKey[$0].map(withRules) }
    }

    public func createTemplate(_ template: TemplateRecord) async throws {
        guard tenantsByID[template.tenantID] != nil else { throw StoreError.unknownTenant(template.tenantID) }
        let key = NameKey(tenantID: template.tenantID, name: template.name)
        guard templatesByKey[key] == nil else { throw StoreError.templateNameTaken(template.name) }
        let owner = RuleOwner.template(tenantID: template.tenantID, name: template.name)
        let rules = try canonicalRules(template.rules, of: owner)
        var bare = template
        bare.rules = []
        templatesByKey[key] = bare
        rulesByOwner[OwnerColumns(owner)] = rules.isEmpty ? nil : rules
    }

    public func replaceTemplate(_ template: TemplateRecord) async throws -> Bool {
        let key = NameKey(tenantID: template.tenantID, name: template.name)
        guard var stored = templatesByKey[key] else { return false }
        let owner = RuleOwner.template(tenantID: template.tenantID, name: template.name)
        let rules = try canonicalRules(template.rules, of: owner)
        stored.mode = template.mode
        stored.profiles = template.profiles
        stored.updatedAt = template.updatedAt
        templatesByKey[key] = stored
        rulesByOwner[OwnerColumns(owner)] = rules.isEmpty ? nil : rules
        return true
    }

    public func deleteTemplate(tenantID: String, name: String) async throws -> Bool {
        guard templatesByKey.removeValue(forKey: NameKey(tenantID: tenantID, name: name)) != nil else { return false }
        rulesByOwner[OwnerColumns(.template(tenantID: tenantID, name: name))] = nil
        return true
    }

    private func withRules(_ template: TemplateRecord) -> TemplateRecord {
        var t = template
        t.rules = rulesByOwner[OwnerColumns(.template(tenantID: t.tenantID, name: t.name))] ?? []
        return t
    }
}
