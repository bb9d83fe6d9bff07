import Foundation
import PortcullisControl
import PortcullisModel
import PortcullisPolicy
import Testing

/// Issue 15, point 8: a cursor the server did not issue for this list is 400, on every list.
@Suite("API: cursors")
struct CursorTests {
    static let refusal = "cursor is not one this list handed out: pass next_cursor back unchanged, with the same filters, or leave cursor out to start again"

    /// The four paged lists, each with three items so `limit=1` gives a cursor.
    static func fill(_ api: API) async throws -> (sandbox: String, lists: [String: String]) {
        var ids: [String] = []
        for _ in 0..<3 { ids.append(try await api.sandbox(#"{"mode": "allowlist"}"#)) }
        for n in 0..<3 {
            _ = try await api.admin(.post, "/api/v1/tenants", json: #"{"name": "t\#(n)"}"#)
            let t = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) + Int64(n))
            try await api.control.recordPending(sandboxID: ids[0], host: "h\(n).test", port: 443, at: t)
        }
        _ = try await api.store.append((0..<3).map { n in OperateAPITests.event(ids[0], "a\(n).test") })
        return (ids[0], ["sandboxes": "/api/v1/sandboxes", "tenants": "/api/v1/tenants",
                         "pending": "/api/v1/sandboxes/\(ids[0])/network/pending", "audit": "/api/v1/audit"])
    }

    static func next(_ api: API, _ path: String) async throws -> String {
        let r = try await api.admin(.get, path + "?limit=1")
        #expect(r.status == 200, "\(r.text)")
        return try #require(r.json["next_cursor"] as? String, "\(path): \(r.text)")
    }

    @Test("every list pages with its own cursors and refuses malformed ones, edited ones and other lists' ones")
    func everyList() async throws {
        try await withAPI { api in
            let (_, lists) = try await Self.fill(api)
            var cursors: [String: String] = [:]
            for (name, path) in lists { cursors[name] = try await Self.next(api, path) }
            for (name, path) in lists {
                let cursor = try #require(cursors[name])
                let ok = try await api.admin(.get, "\(path)?limit=1&cursor=\(cursor)")
                #expect(ok.status == 200 && ok.items.count == 1, "\(name): \(ok.text)")
                var bad = ["%25%25%25", "abc", "c1.1", "sbx_zzzz", String(cursor.dropLast()), cursor + "A", "p1..", "p1.YQ.YQ",
                           String(repeating: "x", count: 1025)]
                // A character of the position changed: the check no longer matches.
                var edited = Array(cursor)
                edited[4] = edited[4] == "A" ? "B" : "A"
                bad.append(String(edited))
                for (other, theirs) in cursors where other != name { bad.append(theirs) }
                for text in bad {
                    let r = try await api.admin(.get, "\(path)?limit=1&cursor=\(text)")
                    #expect(r.status == 400, "\(name) with \(text): \(r.text)")
                    #expect(r.error == Self.refusal, "\(name) with \(text)")
                }
            }
        }
    }

    @Test("a raw %%% is refused as a cursor, not as a length")
    func percents() async throws {
        try await withAPI { api in
            let r = try await api.admin(.get, "/api/v1/audit?cursor=%%%")
            #expect(r.status == 400)
            #expect(r.error == Self.refusal, "\(r.text)")
        }
    }

    @Test("a pending cursor of one sandbox is refused by another's queue; another tenant's sandboxes cursor too")
    func scoped() async throws {
        try await withAPI { api in
            let (sandbox, _) = try await Self.fill(api)
            let cursor = try await Self.next(api, "/api/v1/sandboxes/\(sandbox)/network/pending")
            let second = try await api.sandbox(#"{"mode": "allowlist"}"#)
            for n in 0..<2 {
                try await api.control.recordPending(sandboxID: second, host: "h\(n).test", port: 443, at: Timestamp(milliseconds: Int64(n + 1)))
            }
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(second)/network/pending?limit=1&cursor=\(cursor)").status == 400)
            let other = try await api.otherTenantKey("pager")
            for _ in 0..<2 { _ = try await api.sandbox(key: other) }
            let page = try await api.call(.get, "/api/v1/sandboxes?limit=1", key: other)
            let theirs = try #require(page.json["next_cursor"] as? String)
            #expect(try await api.admin(.get, "/api/v1/sandboxes?limit=1&cursor=\(theirs)").status == 400)
            #expect(try await api.call(.get, "/api/v1/sandboxes?limit=1&cursor=\(theirs)", key: other).status == 200)
        }
    }

    @Test("the cursor format round-trips and binds kind and scope")
    func format() throws {
        let c = PageCursor.issue("sbx_abc", kind: "sandboxes", scope: "tnt_a")
        #expect(try PageCursor.position(of: c, kind: "sandboxes", scope: "tnt_a") == "sbx_abc")
        #expect(try PageCursor.position(of: nil, kind: "sandboxes", scope: "tnt_a") == nil)
        #expect(throws: ControlError.self) { try PageCursor.position(of: c, kind: "tenants", scope: "tnt_a") }
        #expect(throws: ControlError.self) { try PageCursor.position(of: c, kind: "sandboxes", scope: "tnt_b") }
        #expect(throws: ControlError.self) { try PageCursor.position(of: "", kind: "sandboxes", scope: "tnt_a") }
        let unicode = PageCursor.issue("00000000000000000001.pnd_é", kind: "pending", scope: "s")
        #expect(try PageCursor.position(of: unicode, kind: "pending", scope: "s") == "00000000000000000001.pnd_é")
    }
}
