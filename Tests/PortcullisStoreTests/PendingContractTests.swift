import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Testing

@Suite("Store contract: pending queue")
struct PendingContractTests {
    @Test("Recording adds with a stable id, then bumps count and last seen", arguments: StoreKind.available)
    func addAndBump(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
            let t = Fixture.t0
            let first = try await store.recordPending(sandboxID: "sbx_1", host: "a.example", port: 443, at: t, capacity: 10)
            let key = PendingQueue.key(host: "a.example", port: 443)
            #expect(first == PendingEntry(id: PendingQueue.entryID(sandboxID: "sbx_1", key: key, firstSeen: t), host: "a.example",
                                          port: 443, count: 1, firstSeen: t, lastSeen: t))
            let bumped = try await store.recordPending(sandboxID: "sbx_1", host: "a.example", port: 443,
                                                       at: t.adding(milliseconds: 50), capacity: 10)
            #expect(bumped.count == 2 && bumped.firstSeen == t && bumped.lastSeen == t.adding(milliseconds: 50))
            // An older event bumps the count but never moves last seen back.
            let late = try await store.recordPending(sandboxID: "sbx_1", host: "a.example", port: 443,
                                                     at: t.adding(milliseconds: 10), capacity: 10)
            #expect(late.count == 3 && late.lastSeen == t.adding(milliseconds: 50))
            let anyPort = try await store.recordPending(sandboxID: "sbx_1", host: "b.example", port: nil,
                                                        at: t.adding(milliseconds: 60), capacity: 10)
            #expect(anyPort.port == nil)
            #expect(try await store.pending(sandboxID: "sbx_1") == [anyPort, late])

            #expect(try await store.removePending(sandboxID: "sbx_1", id: late.id) == late)
            #expect(try await store.removePending(sandboxID: "sbx_1", id: late.id) == nil)
            #expect(try await store.pending(sandboxID: "sbx_1") == [anyPort])
            await expectConflict("sandbox sbx_zz does not exist") {
                _ = try await store.recordPending(sandboxID: "sbx_zz", host: "a.example", port: 1, at: t, capacity: 10)
            }
        }
    }

    @Test("The same host pending in two sandboxes has two ids; each resolves only its own entry; a host pending again gets a new id",
          arguments: StoreKind.available)
    func idsUniquePerEntry(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
            try await store.createSandbox(Fixture.sandbox("sbx_2"), rules: [])
            let t = Fixture.t0
            let one = try await store.recordPending(sandboxID: "sbx_1", host: "a.example", port: 443, at: t, capacity: 10)
            let two = try await store.recordPending(sandboxID: "sbx_2", host: "a.example", port: 443, at: t, capacity: 10)
            #expect(one.id != two.id)
            let bumped = try await store.recordPending(sandboxID: "sbx_1", host: "a.example", port: 443, at: t.adding(milliseconds: 5), capacity: 10)
            #expect(bumped.id == one.id)
            #expect(try await store.pending(sandboxID: "sbx_1").map(\.id) == [one.id])
            // One sandbox's id names nothing in the other.
            #expect(try await store.removePending(sandboxID: "sbx_2", id: one.id) == nil)
            #expect(try await store.removePending(sandboxID: "sbx_1", id: one.id)?.count == 2)
            #expect(try await store.pending(sandboxID: "sbx_2").map(\.id) == [two.id])
            let again = try await store.recordPending(sandboxID: "sbx_1", host: "a.example", port: 443, at: t.adding(milliseconds: 9), capacity: 10)
            #expect(again.id != one.id && again.count == 1)
        }
    }

    @Test("A full queue drops the least recently seen entry to make room", arguments: StoreKind.available)
    func capacityEviction(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
            let t = Fixture.t0
            for (i, host) in ["a", "b", "c"].enumerated() {
                _ = try await store.recordPending(sandboxID: "sbx_1", host: host + ".example", port: 443,
                                                  at: t.adding(milliseconds: Int64(i)), capacity: 3)
            }
            // Seeing "a" again makes "b" the least recently seen; a bump evicts nothing.
            let bump = try await store.addPending(sandboxID: "sbx_1", host: "a.example", port: 443,
                                                  at: t.adding(milliseconds: 10), capacity: 3)
            #expect(bump.evicted == 0 && bump.entry.count == 2)
            let added = try await store.addPending(sandboxID: "sbx_1", host: "d.example", port: 443,
                                                   at: t.adding(milliseconds: 11), capacity: 3)
            #expect(added.evicted == 1, "the eviction is counted")
            #expect(try await store.pending(sandboxID: "sbx_1").map(\.host) == ["d.example", "a.example", "c.example"])
            // A smaller capacity trims down to it before adding.
            let trimmed = try await store.addPending(sandboxID: "sbx_1", host: "e.example", port: 443,
                                                     at: t.adding(milliseconds: 12), capacity: 2)
            #expect(trimmed.evicted == 2)
            #expect(try await store.pending(sandboxID: "sbx_1").map(\.host) == ["e.example", "d.example"])
        }
    }
}
