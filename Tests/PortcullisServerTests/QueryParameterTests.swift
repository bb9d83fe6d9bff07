import Foundation
import Testing

/// Query strings are strict input too (docs/api.md, "Strict input"): a parameter the
/// operation does not declare, or a value the parameter does not take, is a 400 naming the
/// parameter (never "the body is not valid JSON", which the generated decoder would say).
@Suite("API: query parameters")
struct QueryParameterTests {
    static let limitWord = #"limit must be a whole number between 1 and 1000, not "abc""#

    @Test("a bad value names the parameter and what it takes", arguments: [
        ("/api/v1/audit?action=bogus", #"action must be allow, warn, reject or error, not "bogus""#),
        ("/api/v1/audit/export?action=bogus", #"action must be allow, warn, reject or error, not "bogus""#),
        ("/api/v1/audit/stream?action=bogus", #"action must be allow, warn, reject or error, not "bogus""#),
        ("/api/v1/audit?action=", #"action must be allow, warn, reject or error, not """#),
        ("/api/v1/audit?until=bogus", #"until must be an RFC 3339 time such as 2026-01-02T03:04:05Z, not "bogus""#),
        ("/api/v1/audit/export?until=2026-02-30T00:00:00Z", #"until must be an RFC 3339 time such as 2026-01-02T03:04:05Z, not "2026-02-30T00:00:00Z""#),
        ("/api/v1/audit?limit=abc", limitWord),
        ("/api/v1/audit?limit=99999999999999999999", #"limit must be a whole number between 1 and 1000, not "99999999999999999999""#),
        ("/api/v1/sandboxes?limit=abc", limitWord),
        ("/api/v1/sandboxes/{id}/network/pending?limit=abc", limitWord),
        ("/api/v1/tenants?limit=abc", limitWord),
        ("/api/v1/audit?limit=0", "limit must be between 1 and 1000, not 0"),
        ("/api/v1/sandboxes?limit=1001", "limit must be between 1 and 1000, not 1001"),
        ("/api/v1/audit?since=yesterday", #"since must be a window such as 7d or an RFC 3339 time, not "yesterday""#),
    ])
    func badValues(path: String, message: String) async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let r = try await api.admin(.get, path.replacingOccurrences(of: "{id}", with: id))
            #expect(r.status == 400)
            #expect(r.error == message, "\(r.text)")
        }
    }

    @Test("an unknown parameter is refused naming it and the one meant", arguments: [
        ("/api/v1/audit?acton=reject", #"unknown query parameter "acton"; did you mean "action"?"#),
        ("/api/v1/audit?sandbox_id=sbx_1", #"unknown query parameter "sandbox_id"; did you mean "sandbox"?"#),
        ("/api/v1/audit?via=http",
         #"unknown query parameter "via"; the parameters here are "sandbox", "action", "host", "since", "until", "limit" and "cursor""#),
        ("/api/v1/audit/stream?foo=1", #"unknown query parameter "foo"; the parameters here are "sandbox" and "action""#),
        ("/api/v1/sandboxes?limt=5", #"unknown query parameter "limt"; did you mean "limit"?"#),
        ("/api/v1/network/policy?verbose=1", #"unknown query parameter "verbose"; this operation takes no query parameters"#),
        ("/api/v1/network/policy?wiat=fleet", #"unknown query parameter "wiat"; did you mean "wait"?"#),
    ])
    func unknown(path: String, message: String) async throws {
        try await withAPI { api in
            let r = try await api.admin(.get, path)
            #expect(r.status == 400)
            #expect(r.error == message, "\(r.text)")
        }
    }

    @Test("good values, escapes and ?wait=fleet pass; a refused query changes nothing")
    func goodValues() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            for path in ["/api/v1/audit?action=reject&until=2026-01-02T03:04:05Z&limit=5&since=7d", "/api/v1/audit?action=re%6Aect",
                         "/api/v1/audit/export?action=allow&until=2026-01-02T03:04:05%2B01:00", "/api/v1/sandboxes?limit=1",
                         "/api/v1/sandboxes/\(id)/network/suggestions?since=24h", "/api/v1/network/policy?wait=fleet", "/api/v1/audit?"] {
                let r = try await api.admin(.get, path)
                #expect(r.status == 200, "\(path): \(r.text)")
            }
            let refused = try await api.admin(.put, "/api/v1/sandboxes/\(id)/network/policy?dry_run=1", json: #"{"mode": "isolated"}"#)
            #expect(refused.status == 400 && refused.error == #"unknown query parameter "dry_run"; this operation takes no query parameters"#,
                    "\(refused.text)")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/policy").json["mode"] as? String == "audit")
            let noKey = try await api.call(.get, "/api/v1/audit?foo=1")
            #expect(noKey.status == 401, "authentication comes first")
        }
    }
}
