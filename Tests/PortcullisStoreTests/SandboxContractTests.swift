import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Testing

@Suite("Store contract: sandboxes")
struct SandboxContractTests {
    @Test("A sandbox is created with its rules, read back whole, and paged by id", arguments: StoreKind.available)
    func createReadPage(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createTenant(Fixture.tenant("ten_b"))
            let rules = try Fixture.richRules(owner: .sandbox("sbx_2"))
            let s2 = Fixture.sandbox("sbx_2", addresses: ["100.64.0.2", "fd00::2"])
            try await store.createSandbox(s2, rules: rules)
            var bare = Fixture.sandbox("sbx_1")
            bare.name = nil
            bare.ownMode = nil
            bare.profiles = []
            try await store.createSandbox(bare, rules: [])
            try await store.createSandbox(Fixture.sandbox("sbx_3"), rules: [])
            try await store.createSandbox(Fixture.sandbox("sbx_9", tenant: "ten_b"), rules: [])

            #expect(try await store.sandbox(id: "sbx_2") == s2)
            #expect(try await store.sandbox(id: "sbx_1") == bare)
            #expect(try await store.sandbox(id: "sbx_x") == nil)
            #expect(try await store.rules(of: .sandbox("sbx_2")) == rules)

            let first = try await store.sandboxes(tenantID: "ten_a", after: nil, limit: 2)
            #expect(first.map(\.id) == ["sbx_1", "sbx_2"])
            let second = try await store.sandboxes(tenantID: "ten_a", after: "sbx_2", limit: 2)
            #expect(second.map(\.id) == ["sbx_3"])
            #expect(try await store.sandboxes(tenantID: "ten_a", after: "sbx_3", limit: 2).isEmpty)
            #expect(try await store.allSandboxes().map(\.id) == ["sbx_1", "sbx_2", "sbx_3", "sbx_9"])
            await expectConflict("sandbox sbx_1 already exists") {
                try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
            }
            await expectConflict("tenant ten_zz does not exist") {
                try await store.createSandbox(Fixture.sandbox("sbx_7", tenant: "ten_zz"), rules: [])
            }
        }
    }

    @Test("An address belongs to one sandbox: a second claim is a conflict that does not name the owner (it may be another tenant's)",
          arguments: StoreKind.available)
    func addressConflicts(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_1", addresses: ["100.64.0.2"]), rules: [])
            await expectConflict("address 100.64.0.2 already belongs to another sandbox") {
                try await store.createSandbox(Fixture.sandbox("sbx_2", addresses: ["100.64.0.3", "100.64.0.2"]),
                                              rules: try Fixture.richRules(owner: .sandbox("sbx_2")))
            }
            // The failed create left nothing behind.
            #expect(try await store.sandbox(id: "sbx_2") == nil)
            #expect(try await store.rules(of: .sandbox("sbx_2")).isEmpty)

            try await store.createSandbox(Fixture.sandbox("sbx_2", addresses: ["100.64.0.3"]), rules: [])
            await expectConflict("address 100.64.0.3 already belongs to another sandbox") {
                _ = try await store.updateSandbox(Fixture.sandbox("sbx_1", addresses: ["100.64.0.3"]))
            }
            await expectConflict("address 100.64.0.9 is listed twice") {
                _ = try await store.updateSandbox(Fixture.sandbox("sbx_1", addresses: ["100.64.0.9", "100.64.0.9"]))
            }
            #expect(try await store.sandbox(id: "sbx_1")?.sourceAddresses == ["100.64.0.2"])

            // Moving an address away frees it for another sandbox.
            var moved = Fixture.sandbox("sbx_1", addresses: ["100.64.0.5", "100.64.0.4"])
            moved.name = "renamed"
            moved.ownMode = nil
            #expect(try await store.updateSandbox(moved) == true)
            #expect(try await store.sandbox(id: "sbx_1") == moved)
            #expect(try await store.updateSandbox(Fixture.sandbox("sbx_2", addresses: ["100.64.0.2"])) == true)
            #expect(try await store.updateSandbox(Fixture.sandbox("sbx_404")) == false)
        }
    }

    @Test("Deleting a sandbox removes its rules, addresses and pending entries", arguments: StoreKind.available)
    func cascadeDelete(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_1", addresses: ["100.64.0.2"]),
                                          rules: try Fixture.richRules(owner: .sandbox("sbx_1")))
            try await store.createSandbox(Fixture.sandbox("sbx_2"), rules: try Fixture.richRules(owner: .sandbox("sbx_2")))
            _ = try await store.recordPending(sandboxID: "sbx_1", host: "a.example", port: 443, at: Fixture.t0, capacity: 10)
            _ = try await store.recordPending(sandboxID: "sbx_2", host: "a.example", port: 443, at: Fixture.t0, capacity: 10)

            #expect(try await store.deleteSandbox(id: "sbx_1") == true)
            #expect(try await store.deleteSandbox(id: "sbx_1") == false)
            #expect(try await store.sandbox(id: "sbx_1") == nil)
            #expect(try await store.rules(of: .sandbox("sbx_1")).isEmpty)
            #expect(try await store.pending(sandboxID: "sbx_1").isEmpty)
            #expect(try await store.allRules().allSatisfy { $0.owner == .sandbox("sbx_2") })
            #expect(try await store.rules(of: .sandbox("sbx_2")).count == 5)
            #expect(try await store.pending(sandboxID: "sbx_2").count == 1)
            // Its address is free again.
            try await store.createSandbox(Fixture.sandbox("sbx_3", addresses: ["100.64.0.2"]), rules: [])
        }
    }
}
