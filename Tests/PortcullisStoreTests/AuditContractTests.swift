import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Testing

@Suite("Store contract: audit log")
struct AuditContractTests {
    @Test("Appended events get increasing aud_ ids and read back field for field", arguments: StoreKind.available)
    func appendRoundTrip(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            var sparse = AuditEvent(time: Fixture.t0, tenantID: "ten_a", sandboxID: nil, client: "127.0.0.1:1",
                                    via: .dns, host: "q.example", port: nil, transport: "udp", action: .reject,
                                    reason: "mode:isolated", policyVersion: UInt64(Int64.max))
            sparse.joinsPending = true
            var terminated = Fixture.event(3, action: .reject)
            terminated.terminated = true
            terminated.credential = "openai"
            let written = try await store.append([Fixture.event(1), sparse, terminated])
            #expect(written.map(\.id) == ["aud_1", "aud_2", "aud_3"])
            #expect(written[1].joinsPending == true)
            #expect(try await store.count() == 3)
            #expect(try await store.append([]).isEmpty)

            let page = try await store.query(AuditQuery(tenantID: "ten_a"))
            var expected = Array(written.reversed())
            for i in expected.indices { expected[i].joinsPending = false }
            #expect(page.items == expected)
            #expect(page.items[0].terminated && page.items[0].credential == "openai", "terminated and credential are stored")
            #expect(!page.items[2].terminated && page.items[2].credential == nil)
            #expect(page.nextCursor == nil)
        }
    }

    @Test("Pages run newest first, with a cursor until the last page", arguments: StoreKind.available)
    func paging(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            _ = try await store.append((1...25).map { Fixture.event($0) })
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await store.query(AuditQuery(tenantID: "ten_a", cursor: cursor, limit: 10))
                seen += page.items.compactMap(\.id)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen == (1...25).reversed().map { "aud_\($0)" })
            // Exactly one page's worth: no cursor on it.
            let exact = try await store.query(AuditQuery(tenantID: "ten_a", limit: 25))
            #expect(exact.items.count == 25 && exact.nextCursor == nil)
            let bogus = try await store.query(AuditQuery(tenantID: "ten_a", cursor: "not-a-cursor"))
            #expect(bogus.items.isEmpty && bogus.nextCursor == nil)
        }
    }

    @Test("Filters by sandbox, action, host and time window, within the tenant only", arguments: StoreKind.available)
    func filters(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            _ = try await store.append([
                Fixture.event(1, sandbox: "sbx_1", action: .allow, host: "a.example"),
                Fixture.event(2, sandbox: "sbx_1", action: .reject, host: "b.example"),
                Fixture.event(3, sandbox: "sbx_2", action: .reject, host: "a.example"),
                Fixture.event(4, tenant: "ten_b", sandbox: "sbx_9", action: .reject, host: "a.example"),
                Fixture.event(5, sandbox: "sbx_1", action: .reject, host: "a.example"),
            ])
            func ids(_ q: AuditQuery) async throws -> [String] { try await store.query(q).items.compactMap(\.id) }
            #expect(try await ids(AuditQuery(tenantID: "ten_a")) == ["aud_5", "aud_3", "aud_2", "aud_1"])
            #expect(try await ids(AuditQuery(tenantID: "ten_b")) == ["aud_4"])
            #expect(try await ids(AuditQuery(tenantID: "ten_a", sandboxID: "sbx_1")) == ["aud_5", "aud_2", "aud_1"])
            #expect(try await ids(AuditQuery(tenantID: "ten_a", action: "reject")) == ["aud_5", "aud_3", "aud_2"])
            #expect(try await ids(AuditQuery(tenantID: "ten_a", host: "a.example")) == ["aud_5", "aud_3", "aud_1"])
            #expect(try await ids(AuditQuery(tenantID: "ten_a", host: "A.example")).isEmpty)
            #expect(try await ids(AuditQuery(tenantID: "ten_a", sandboxID: "sbx_1", action: "reject", host: "a.example"))
                        == ["aud_5"])
            let t = Fixture.t0
            #expect(try await ids(AuditQuery(tenantID: "ten_a", since: t.adding(milliseconds: 2),
                                             until: t.adding(milliseconds: 3))) == ["aud_3", "aud_2"])
            let filtered = try await store.query(AuditQuery(tenantID: "ten_a", action: "reject", limit: 2))
            #expect(filtered.items.compactMap(\.id) == ["aud_5", "aud_3"])
            let rest = try await store.query(AuditQuery(tenantID: "ten_a", action: "reject", cursor: filtered.nextCursor,
                                                        limit: 2))
            #expect(rest.items.compactMap(\.id) == ["aud_2"] && rest.nextCursor == nil)
        }
    }

    @Test("The tally counts a sandbox's events per host and port since a time", arguments: StoreKind.available)
    func tally(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            let t = Fixture.t0
            _ = try await store.append([
                Fixture.event(1, host: "old.example", time: t.adding(milliseconds: -1)),
                Fixture.event(2, host: "a.example", port: 443, time: t),
                Fixture.event(3, host: "a.example", port: 443, time: t.adding(milliseconds: 1)),
                Fixture.event(4, host: "a.example", port: 80),
                Fixture.event(5, host: "dns.example", port: nil),
                Fixture.event(6, sandbox: "sbx_2", host: "a.example"),
                Fixture.event(7, tenant: "ten_b", host: "a.example"),
            ])
            let tally = try await store.tally(tenantID: "ten_a", sandboxID: "sbx_1", since: t)
            #expect(tally == [
                Suggestions.Tally(host: "a.example", port: 80, count: 1),
                Suggestions.Tally(host: "a.example", port: 443, count: 2),
                Suggestions.Tally(host: "dns.example", port: nil, count: 1),
            ])
        }
    }

    @Test("Retention deletes events older than the cutoff and says how many", arguments: StoreKind.available)
    func retention(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            _ = try await store.append((1...10).map { Fixture.event($0) })
            #expect(try await store.deleteOlder(than: Fixture.t0.adding(milliseconds: 4)) == 3)
            #expect(try await store.deleteOlder(than: Fixture.t0.adding(milliseconds: 4)) == 0)
            #expect(try await store.count() == 7)
            // Ids keep growing after a delete.
            #expect(try await store.append([Fixture.event(11)]).first?.id == "aud_11")
        }
    }

    @Test("Concurrent appends from several tasks lose nothing", arguments: StoreKind.available)
    func concurrentAppends(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            let ids = try await withThrowingTaskGroup(of: [String].self) { group in
                for task in 0..<8 {
                    group.addTask {
                        var ids: [String] = []
                        for batch in 0..<25 {
                            let events = (0..<20).map { Fixture.event(task * 10_000 + batch * 100 + $0) }
                            ids += try await store.append(events).compactMap(\.id)
                        }
                        return ids
                    }
                }
                var all: [String] = []
                for try await ids in group { all += ids }
                return all
            }
            #expect(ids.count == 8 * 25 * 20)
            #expect(Set(ids).count == ids.count)
            #expect(try await store.count() == 4000)
        }
    }
}
