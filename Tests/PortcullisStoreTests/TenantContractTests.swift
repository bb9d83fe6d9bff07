import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Testing

@Suite("Store contract: tenants, keys, policy version")
struct TenantContractTests {
    @Test("Tenants are created, read by id and name, listed by id, and updated", arguments: StoreKind.available)
    func tenantsRoundTrip(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            let b = Fixture.tenant("ten_b", name: "Beta")
            let a = Fixture.tenant("ten_a", name: "Alpha")
            try await store.createTenant(b)
            try await store.createTenant(a)
            #expect(try await store.tenant(id: "ten_a") == a)
            #expect(try await store.tenant(named: "Beta") == b)
            #expect(try await store.tenant(id: "ten_x") == nil)
            #expect(try await store.tenant(named: "Gamma") == nil)
            #expect(try await store.tenants() == [a, b])

            var changed = a
            changed.name = "Alpha 2"
            changed.defaultMode = .isolated
            changed.defaultProfiles = []
            changed.updatedAt = Fixture.t0.adding(milliseconds: 99)
            try await store.updateTenant(changed)
            #expect(try await store.tenant(id: "ten_a") == changed)
            #expect(try await store.tenant(named: "Alpha") == nil)
        }
    }

    @Test("A taken tenant name or id is a conflict, on create and on update", arguments: StoreKind.available)
    func tenantConflicts(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a", name: "Alpha"))
            try await store.createTenant(Fixture.tenant("ten_b", name: "Beta"))
            await expectConflict("a tenant named \"Alpha\" already exists") {
                try await store.createTenant(Fixture.tenant("ten_c", name: "Alpha"))
            }
            await expectConflict("tenant ten_a already exists") {
                try await store.createTenant(Fixture.tenant("ten_a", name: "Other"))
            }
            await expectConflict("a tenant named \"Alpha\" already exists") {
                try await store.updateTenant(Fixture.tenant("ten_b", name: "Alpha"))
            }
            #expect(try await store.tenant(id: "ten_b")?.name == "Beta")
        }
    }

    @Test("API keys are found by hash, listed per tenant, unique by hash, and deleted by their tenant only",
          arguments: StoreKind.available)
    func apiKeys(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createTenant(Fixture.tenant("ten_b"))
            let k1 = APIKeyRecord(id: "key_1", tenantID: "ten_a", hash: "aa11", isAdmin: true, createdAt: Fixture.t0)
            let k2 = APIKeyRecord(id: "key_2", tenantID: "ten_a", hash: "bb22", isAdmin: false, createdAt: Fixture.t0)
            let k3 = APIKeyRecord(id: "key_3", tenantID: "ten_b", hash: "cc33", isAdmin: false, createdAt: Fixture.t0)
            for k in [k2, k1, k3] { try await store.createKey(k) }
            #expect(try await store.key(hash: "aa11") == k1)
            #expect(try await store.key(hash: "zz") == nil)
            #expect(try await store.keys(tenantID: "ten_a") == [k1, k2])
            await expectConflict("an API key with this hash already exists") {
                try await store.createKey(APIKeyRecord(id: "key_4", tenantID: "ten_b", hash: "aa11", isAdmin: false,
                                                       createdAt: Fixture.t0))
            }
            await expectConflict("tenant ten_zz does not exist") {
                try await store.createKey(APIKeyRecord(id: "key_5", tenantID: "ten_zz", hash: "dd", isAdmin: false,
                                                       createdAt: Fixture.t0))
            }
            #expect(try await store.deleteKey(id: "key_1", tenantID: "ten_b") == false)
            #expect(try await store.deleteKey(id: "key_1", tenantID: "ten_a") == true)
            #expect(try await store.deleteKey(id: "key_1", tenantID: "ten_a") == false)
            #expect(try await store.keys(tenantID: "ten_a") == [k2])
        }
    }

    @Test("The policy version starts at zero and each committed change adds one", arguments: StoreKind.available)
    func policyVersion(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            #expect(try await store.policyVersion() == 0)
            #expect(try await store.commitPolicyChange(.tenant("t"), {}) == 1)
            #expect(try await store.commitPolicyChange(.sandboxes(["s"]), {}) == 2)
            #expect(try await store.policyVersion() == 2)
        }
    }
}

/// Expects `body` to throw `StoreError(.conflict, message)`.
func expectConflict(_ message: String, sourceLocation: SourceLocation = #_sourceLocation,
                    _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected a conflict: \(message)", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error == StoreError(.conflict, message), sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a StoreError, got \(error)", sourceLocation: sourceLocation)
    }
}
