import Foundation
import Testing

/// API details the CLI's operator commands rely on (issue 16).
@Suite("Operator API details")
struct OperatorAPITests {
    @Test("a new key's id is key_id in both answers that issue keys")
    func keyIDNamedAlike() async throws {
        try await withAPI { api in
            let tenant = try await api.admin(.post, "/api/v1/tenants", json: #"{"name": "acme"}"#)
            let tenantID = try #require(tenant.json["id"] as? String)
            #expect((tenant.json["key_id"] as? String)?.hasPrefix("key_") == true)
            let key = try await api.admin(.post, "/api/v1/tenants/\(tenantID)/keys")
            let keyID = try #require(key.json["key_id"] as? String)
            #expect(keyID.hasPrefix("key_") && key.json["id"] as? String == keyID)
            #expect(try await api.admin(.delete, "/api/v1/tenants/\(tenantID)/keys/\(keyID)").status == 204)
        }
    }

    @Test("a PUT that changes only the mode keeps the ids of the rules it sends back unchanged")
    func putKeepsRuleIDs() async throws {
        try await withAPI { api in
            let added = try await api.admin(.post, "/api/v1/network/rules", json: #"{"action": "allow", "host": "pypi.org", "note": "n"}"#)
            let tenantRule = try #require(added.json["id"] as? String)
            let put = try await api.admin(.put, "/api/v1/network/policy", json: """
                {"default_mode": "denylist", "allow_rules": [{"host": "pypi.org", "note": "n"}, {"host": "npmjs.org"}]}
                """)
            #expect(put.status == 200, "\(put.text)")
            let allow = put.json["allow_rules"] as? [[String: Any]] ?? []
            #expect(allow.first?["id"] as? String == tenantRule, "the unchanged rule keeps its id")
            #expect(allow.count == 2 && allow.last?["id"] as? String != tenantRule)

            let sid = try await api.sandbox(#"{"network": {"deny": ["ifconfig.me"]}}"#)
            let before = try await api.admin(.get, "/api/v1/sandboxes/\(sid)/network/policy")
            let denyID = try #require((before.json["deny_rules"] as? [[String: Any]])?.first?["id"] as? String)
            let after = try await api.admin(.put, "/api/v1/sandboxes/\(sid)/network/policy", json: """
                {"mode": "isolated", "deny_rules": [{"host": "ifconfig.me"}]}
                """)
            #expect(after.json["mode"] as? String == "isolated")
            #expect((after.json["deny_rules"] as? [[String: Any]])?.first?["id"] as? String == denyID)
            let changed = try await api.admin(.put, "/api/v1/sandboxes/\(sid)/network/policy", json: """
                {"deny_rules": [{"host": "ifconfig.me", "port": 443}]}
                """)
            #expect((changed.json["deny_rules"] as? [[String: Any]])?.first?["id"] as? String != denyID, "a changed rule is a new rule")
        }
    }
}
