import Foundation
import Testing

/// Bugs schemathesis found: the server answering differently from the OpenAPI document.
@Suite struct SchemaContractTests {
    @Test("times in nullable-keeping bodies are RFC 3339 strings, not reference-date numbers")
    func timesAreStrings() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let sandbox = try await api.admin(.get, "/api/v1/sandboxes/\(id)")
            #expect((sandbox.json["created_at"] as? String)?.hasSuffix("Z") == true, "\(sandbox.text)")
            let profile = try await api.admin(.get, "/api/v1/profiles/openai")
            let rule = (profile.json["rules"] as? [[String: Any]])?.first
            #expect(rule?["created_at"] is String, "\(profile.text)")
        }
    }

    @Test("an undeclared method on a known path is 405 with Allow; an unknown path stays 404")
    func undeclaredMethod() async throws {
        try await withAPI { api in
            let r = try await api.admin(.init("TRACE")!, "/api/v1/network/lockdown")
            #expect(r.status == 405)
            #expect(r.error?.contains("POST") == true)
            let r1 = try await api.call(.init("TRACE")!, "/healthz")
            #expect(r1.status == 405)
            let r2 = try await api.admin(.get, "/api/v1/nothing-here")
            #expect(r2.status == 404)
        }
    }

    @Test("query bounds of the document are enforced", arguments: [
        "/api/v1/sandboxes?limit=1001", "/api/v1/sandboxes?limit=0", "/api/v1/tenants?limit=1001",
        "/api/v1/audit?sandbox=" + String(repeating: "0", count: 129), "/api/v1/audit?cursor=",
        "/api/v1/audit?since=2025-02-30T00:00:00Z",
    ])
    func queryBounds(path: String) async throws {
        try await withAPI { api in
            let r = try await api.admin(.get, path)
            #expect(r.status == 400, "\(r.text)")
        }
    }

    @Test("RFC 3339 times with a fraction or lower-case t and z are accepted")
    func rfc3339() async throws {
        try await withAPI { api in
            let r3 = try await api.admin(.get, "/api/v1/audit?since=2025-01-02t03:04:05.123456z")
            #expect(r3.status == 200)
            let r4 = try await api.admin(.get, "/api/v1/audit?until=2025-01-02T03:04:05.5%2B01:00")
            #expect(r4.status == 200)
        }
    }

    @Test("null for a field that is not nullable is refused, where it is nullable it is accepted")
    func nulls() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let bad = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "a.com", "warn_only": null}"#)
            #expect(bad.status == 400 && bad.error == "warn_only must not be null; leave it out instead", "\(bad.text)")
            let ok = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "a.com", "port": null, "note": null}"#)
            #expect(ok.status == 201, "\(ok.text)")
            let empty = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain", json: #"{"host": "a.com", "resolved": []}"#)
            #expect(empty.status == 400, "\(empty.text)")
        }
    }

    @Test("template names follow the document's Name pattern")
    func templateNames() async throws {
        try await withAPI { api in
            let r5 = try await api.admin(.post, "/api/v1/templates", json: #"{"name": "py.ds_1"}"#)
            #expect(r5.status == 201)
            let r6 = try await api.admin(.post, "/api/v1/templates", json: #"{"name": "Py?x"}"#)
            #expect(r6.status == 400)
        }
    }
}
