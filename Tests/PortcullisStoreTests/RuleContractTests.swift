import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Testing

@Suite("Store contract: rules, profiles, templates")
struct RuleContractTests {
    static let owners: [RuleOwner] = [
        .sandbox("sbx_1"), .tenant("ten_a"), .profile(tenantID: "ten_a", name: "corp"),
        .template(tenantID: "ten_a", name: "base"),
    ]

    static func expectedSource(_ owner: RuleOwner) -> RuleSource {
        switch owner {
        case .sandbox, .template: return .local
        case .tenant: return .tenant
        case .profile(_, let name): return .profile(name)
        }
    }

    /// `rules` as the store should give them back: with the source the owner implies.
    static func expected(_ rules: [StoredRule]) -> [StoredRule] {
        rules.map { r in
            var r = r
            r.rule.source = expectedSource(r.owner)
            return r
        }
    }

    @Test("Every rule field round-trips exactly, for every owner kind", arguments: StoreKind.available)
    func roundTrip(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            var all: [StoredRule] = []
            for owner in RuleContractTests.owners {
                let rules = try Fixture.richRules(owner: owner)
                // Added out of order: they come back in position order.
                for r in rules.reversed() { try await store.addRule(r) }
                let back = try await store.rules(of: owner)
                #expect(back == RuleContractTests.expected(rules), "owner \(owner)")
                #expect(back.first?.rule.methods == ["GET", "POST"])
                #expect(back.first?.rule.host.description == "api.openai.com")
                #expect(back.first?.rule.paths?.map(\.description) == ["/v1/*", "/health"])
                #expect(back[1].rule.except.map(\.description) == ["jira.corp.example", "*.wiki.corp.example"])
                all += RuleContractTests.expected(rules)
            }
            #expect(Set(try await store.allRules()) == Set(all))
            #expect(try await store.allRules().count == all.count)
        }
    }

    @Test("Rules are added, deleted by id within their owner, and replaced whole", arguments: StoreKind.available)
    func addDeleteReplace(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            let owner = RuleOwner.tenant("ten_a")
            let rules = try Fixture.richRules(owner: owner)
            try await store.replaceRules(of: owner, with: rules)
            await expectConflict("rule rul_1 already exists for this owner") { try await store.addRule(rules[0]) }
            // The same id under another owner is a different rule.
            var other = rules[0]
            other.owner = .sandbox("sbx_1")
            try await store.addRule(other)

            #expect(try await store.deleteRule(id: "rul_2", of: .sandbox("sbx_1")) == false)
            #expect(try await store.deleteRule(id: "rul_2", of: owner) == true)
            #expect(try await store.deleteRule(id: "rul_2", of: owner) == false)
            #expect(try await store.rules(of: owner).map(\.rule.id) == ["rul_1", "rul_3", "rul_4", "rul_5"])

            let replacement = [try Fixture.rule("rul_9", RuleDraft(action: "deny", host: "evil.example", port: 25),
                                                owner: owner, position: 0)]
            try await store.replaceRules(of: owner, with: replacement)
            #expect(try await store.rules(of: owner) == RuleContractTests.expected(replacement))
            try await store.replaceRules(of: owner, with: [])
            #expect(try await store.rules(of: owner).isEmpty)
            #expect(try await store.rules(of: .sandbox("sbx_1")).count == 1)
        }
    }

    @Test("Profiles are created, listed, replaced and deleted with their rules; a taken name is a conflict",
          arguments: StoreKind.available)
    func profiles(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createTenant(Fixture.tenant("ten_b"))
            let owner = RuleOwner.profile(tenantID: "ten_a", name: "corp")
            let corp = ProfileRecord(tenantID: "ten_a", name: "corp", description: "Corporate hosts",
                                     rules: RuleContractTests.expected(try Fixture.richRules(owner: owner)),
                                     createdAt: Fixture.t0, updatedAt: Fixture.t0)
            let empty = ProfileRecord(tenantID: "ten_a", name: "aaa", description: nil, rules: [],
                                      createdAt: Fixture.t0, updatedAt: Fixture.t0)
            let otherTenant = ProfileRecord(tenantID: "ten_b", name: "corp", description: "theirs", rules: [],
                                            createdAt: Fixture.t0, updatedAt: Fixture.t0)
            try await store.createProfile(corp)
            try await store.createProfile(empty)
            try await store.createProfile(otherTenant)
            await expectConflict("a profile named \"corp\" already exists") { try await store.createProfile(corp) }
            await expectConflict("tenant ten_zz does not exist") {
                try await store.createProfile(ProfileRecord(tenantID: "ten_zz", name: "x", description: nil, rules: [],
                                                            createdAt: Fixture.t0, updatedAt: Fixture.t0))
            }
            #expect(try await store.profile(tenantID: "ten_a", name: "corp") == corp)
            #expect(try await store.profile(tenantID: "ten_a", name: "nope") == nil)
            #expect(try await store.profiles(tenantID: "ten_a") == [empty, corp])
            #expect(try await store.allProfiles() == [empty, corp, otherTenant])
            #expect(try await store.rules(of: owner) == corp.rules)

            var changed = corp
            changed.description = nil
            changed.rules = Array(corp.rules.prefix(1))
            changed.updatedAt = Fixture.t0.adding(milliseconds: 500)
            #expect(try await store.replaceProfile(changed) == true)
            #expect(try await store.profile(tenantID: "ten_a", name: "corp") == changed)
            var missing = changed
            missing.name = "ghost"
            #expect(try await store.replaceProfile(missing) == false)

            #expect(try await store.deleteProfile(tenantID: "ten_a", name: "corp") == true)
            #expect(try await store.deleteProfile(tenantID: "ten_a", name: "corp") == false)
            #expect(try await store.rules(of: owner).isEmpty)
            #expect(try await store.profile(tenantID: "ten_b", name: "corp") == otherTenant)
        }
    }

    @Test("Templates keep mode, rules and profiles; a taken name is a conflict", arguments: StoreKind.available)
    func templates(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            let owner = RuleOwner.template(tenantID: "ten_a", name: "base")
            let base = TemplateRecord(tenantID: "ten_a", name: "base", mode: .allowlist,
                                      rules: RuleContractTests.expected(try Fixture.richRules(owner: owner)),
                                      profiles: ["pypi", "corp"], createdAt: Fixture.t0, updatedAt: Fixture.t0)
            let plain = TemplateRecord(tenantID: "ten_a", name: "a-plain", mode: nil, rules: [], profiles: [],
                                       createdAt: Fixture.t0, updatedAt: Fixture.t0)
            try await store.createTemplate(base)
            try await store.createTemplate(plain)
            await expectConflict("a template named \"base\" already exists") { try await store.createTemplate(base) }
            #expect(try await store.template(tenantID: "ten_a", name: "base") == base)
            #expect(try await store.templates(tenantID: "ten_a") == [plain, base])
            #expect(try await store.templates(tenantID: "ten_b").isEmpty)

            var changed = base
            changed.mode = nil
            changed.profiles = []
            changed.rules = []
            changed.updatedAt = Fixture.t0.adding(milliseconds: 7)
            #expect(try await store.replaceTemplate(changed) == true)
            #expect(try await store.template(tenantID: "ten_a", name: "base") == changed)
            var missing = changed
            missing.name = "ghost"
            #expect(try await store.replaceTemplate(missing) == false)
            #expect(try await store.deleteTemplate(tenantID: "ten_a", name: "base") == true)
            #expect(try await store.deleteTemplate(tenantID: "ten_a", name: "base") == false)
            #expect(try await store.template(tenantID: "ten_a", name: "base") == nil)
        }
    }
}
