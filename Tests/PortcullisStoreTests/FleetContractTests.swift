import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Testing

@Suite("Store contract: fleet (policy change log, nodes, concurrent pending bumps)")
struct FleetContractTests {
    @Test("A policy change writes, raises the version and logs its scope in one transaction", arguments: StoreKind.available)
    func changeLog(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            let v1 = try await store.commitPolicyChange(.sandboxes(["sbx_1"])) {
                try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
            }
            let v2 = try await store.commitPolicyChange(.tenant("ten_a")) {}
            #expect(v2 == v1 + 1)
            let log = try await store.policyChanges(after: 0, limit: 10)
            #expect(!log.incomplete)
            #expect(log.newestVersion == v2)
            #expect(log.changes.map(\.version) == [v1, v2])
            #expect(log.changes.map(\.scope) == [.sandboxes(["sbx_1"]), .tenant("ten_a")])
            #expect(try await store.policyChanges(after: v1, limit: 10).changes.map(\.version) == [v2])
            #expect(try await store.policyChanges(after: v2, limit: 10).changes.isEmpty)
        }
    }

    @Test("Writes that throw leave nothing behind and do not move the version", arguments: StoreKind.available)
    func rollback(kind: StoreKind) async throws {
        struct Abandon: AbandonsPolicyChange {}
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            await #expect(throws: Abandon.self) {
                _ = try await store.commitPolicyChange(.sandboxes(["sbx_1"])) {
                    try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
                    throw Abandon()
                }
            }
            #expect(try await store.sandbox(id: "sbx_1") == nil)
            #expect(try await store.policyVersion() == 0)
            #expect(try await store.policyChanges(after: 0, limit: 10).changes.isEmpty)
        }
    }

    @Test("A pruned log is reported incomplete to a reader behind it", arguments: StoreKind.available)
    func pruned(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            for _ in 0..<3 { _ = try await store.commitPolicyChange(.tenant("t"), {}) }
            _ = try await store.pruneChanges(before: Timestamp(milliseconds: Int64.max / 2))
            let log = try await store.policyChanges(after: 1, limit: 10)
            #expect(log.incomplete)
            #expect(try await store.policyChanges(after: 3, limit: 10).incomplete == false)
        }
    }

    @Test("Concurrent pending bumps all count", arguments: StoreKind.available)
    func concurrentBumps(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        _ = try await store.recordPending(sandboxID: "sbx_1", host: "a.example", port: 443,
                                                          at: Fixture.t0.adding(milliseconds: Int64(i)), capacity: 10)
                    }
                }
                try await group.waitForAll()
            }
            let entries = try await store.pending(sandboxID: "sbx_1")
            #expect(entries.count == 1 && entries.first?.count == 40)
        }
    }

    @Test("Nodes register, heartbeat and record applied versions that only go up", arguments: StoreKind.available)
    func nodes(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            let node = NodeRecord(id: "gw-a", apiAddress: "10.0.0.1:8080", proxyAddress: "10.0.0.1:3128", softwareVersion: "0.1.0",
                                  startedAt: Fixture.t0, heartbeatAt: Fixture.t0, appliedPolicyVersion: 3, reportedState: .up)
            try await store.saveNode(node)
            try await store.recordApplied(nodeID: "gw-a", version: 5)
            try await store.recordApplied(nodeID: "gw-a", version: 4)
            // A heartbeat of the same run carrying an older version keeps the newer one.
            try await store.saveNode(node)
            let listing = try await store.nodes()
            #expect(listing.nodes.map(\.id) == ["gw-a"])
            #expect(listing.nodes[0].appliedPolicyVersion == 5)
            #expect(listing.nodes[0].state(at: listing.now) == .up)
            #expect(listing.nodes[0].state(at: listing.now.adding(milliseconds: 10_001)) == .down)
        }
    }
}
