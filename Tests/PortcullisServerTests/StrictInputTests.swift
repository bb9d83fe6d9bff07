import Foundation
import Testing

/// API.md "Strict input", through the real router: each body of issue 15's point 1 and 2 is
/// refused with 400 naming the field, and nothing changes.
@Suite("API: strict input")
struct StrictInputTests {
    /// The tenant policy and a sandbox's policy as JSON text, to show nothing changed.
    static func state(_ api: API, sandbox: String) async throws -> String {
        let t = try await api.admin(.get, "/api/v1/network/policy")
        let s = try await api.admin(.get, "/api/v1/sandboxes/\(sandbox)/network/policy")
        return t.text + s.text
    }

    @Test("a misspelt rule field is refused, naming it and the field meant, and no rule is added", arguments: [
        (#"{"action": "allow", "host": "x.test", "ports": 443}"#, #"unknown field "ports"; did you mean "port"?"#),
        (#"{"action": "allow", "host": "x.test", "warnonly": true}"#, #"unknown field "warnonly"; did you mean "warn_only"?"#),
        (#"{"action": "allow", "hots": "x.test"}"#, #"unknown field "hots"; did you mean "host"?"#),
        (#"{"action": "allow", "host": "x.test", "id": "rul_mine"}"#, #"unknown field "id"; the fields of this body are "action", "host", "port", "protocol", "methods", "paths", "warn_only", "inspect", "except" and "note""#),
    ])
    func misspeltRuleField(json: String, message: String) async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let before = try await Self.state(api, sandbox: id)
            for path in ["/api/v1/sandboxes/\(id)/network/rules", "/api/v1/network/rules"] {
                let r = try await api.admin(.post, path, json: json)
                #expect(r.status == 400, "\(r.text)")
                #expect(r.error == message)
            }
            #expect(try await Self.state(api, sandbox: id) == before)
        }
    }

    @Test("PUT of the tenant policy with mode is refused and erases nothing")
    func tenantPolicyMode() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            #expect(try await api.admin(.post, "/api/v1/network/rules", json: #"{"action": "deny", "host": "evil.test"}"#).status == 201)
            let before = try await Self.state(api, sandbox: id)
            let r = try await api.admin(.put, "/api/v1/network/policy", json: #"{"mode": "allowlist"}"#)
            #expect(r.status == 400)
            #expect(r.error == #"unknown field "mode"; did you mean "default_mode"?"#)
            #expect(try await Self.state(api, sandbox: id) == before)
            let policy = try await api.admin(.get, "/api/v1/network/policy")
            #expect(policy.json["default_mode"] as? String == "audit")
            #expect((policy.json["deny_rules"] as? [[String: Any]])?.count == 1)
        }
    }

    @Test("a compat rule with action is refused, not turned into an allow")
    func compatRuleAction() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let before = try await Self.state(api, sandbox: id)
            let r = try await api.admin(.put, "/api/v1/computers/\(id)/network-policy",
                                        json: #"{"mode": "denylist", "rules": [{"host": "evil.test", "action": "deny"}]}"#)
            #expect(r.status == 400)
            #expect(r.error == #"unknown field "action" in rules[0]; the fields there are "host", "port" and "protocol""#)
            #expect(try await Self.state(api, sandbox: id) == before)
        }
    }

    @Test("nested objects are strict too: a rule in a policy, a template, a profile, the create-time network")
    func nested() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let cases: [(HTTPMethodName, String, String, String)] = [
                (.put, "/api/v1/sandboxes/\(id)/network/policy", #"{"allow_rules": [{"host": "a.test"}, {"hots": "b.test"}]}"#,
                 #"unknown field "hots" in allow_rules[1]; did you mean "host"?"#),
                (.put, "/api/v1/sandboxes/\(id)/network/policy", #"{"modes": "allowlist"}"#,
                 #"unknown field "modes"; did you mean "mode"?"#),
                (.post, "/api/v1/templates", #"{"name": "t1", "deny_rules": [{"host": "a.test", "layer": "tenant"}]}"#,
                 #"unknown field "layer" in deny_rules[0]; the fields there are "id", "source", "created_at", "action", "host", "port", "protocol", "methods", "paths", "warn_only", "inspect", "except" and "note""#),
                (.post, "/api/v1/profiles/mine", #"{"rules": [{"action": "allow", "host": "a.test", "Port": 1}]}"#,
                 #"unknown field "Port" in rules[0]; did you mean "port"?"#),
                (.post, "/api/v1/sandboxes", #"{"network": {"allowed": ["a.test"]}}"#,
                 #"unknown field "allowed" in network; did you mean "allow"?"#),
                (.patch, "/api/v1/sandboxes/\(id)", #"{"source_address": ["192.0.2.1"]}"#,
                 #"unknown field "source_address"; did you mean "source_addresses"?"#),
            ]
            for (method, path, json, message) in cases {
                let r = try await api.admin(method.value, path, json: json)
                #expect(r.status == 400, "\(path) \(r.text)")
                #expect(r.error == message, "\(path)")
            }
            #expect(try await api.admin(.get, "/api/v1/templates/t1").status == 404)
            #expect(try await api.admin(.get, "/api/v1/profiles/mine").status == 404)
            #expect(try await api.admin(.get, "/api/v1/sandboxes").items.count == 1)
        }
    }

    @Test("an operation without a body refuses fields, and takes {} or nothing")
    func bodiless() async throws {
        try await withAPI { api in
            let r = try await api.admin(.post, "/api/v1/network/lockdown", json: #"{"hosts": ["a.test"]}"#)
            #expect(r.status == 400)
            #expect(r.error == #"unknown field "hosts"; this operation takes no body"#)
            #expect(try await api.admin(.get, "/api/v1/network/policy").json["default_mode"] as? String == "audit")
            #expect(try await api.admin(.post, "/api/v1/network/observe", json: "[1]").error == "this operation takes no body")
            #expect(try await api.admin(.post, "/api/v1/network/lockdown", json: "{}").status == 200)
            #expect(try await api.admin(.post, "/api/v1/network/observe").status == 200)
        }
    }

    @Test("a key given twice is refused, also when one is spelt with escapes", arguments: [
        (#"{"action": "allow", "host": "x.test", "action": "deny"}"#, #"field "action" is given twice; give each field once"#),
        (#"{"action": "allow", "host": "x.test", "\u0061ction": "deny"}"#, #"field "action" is given twice; give each field once"#),
        (#"{"action": "deny", "host": "x.test", "except": [], "host": "y.test"}"#, #"field "host" is given twice; give each field once"#),
    ])
    func duplicateKeys(json: String, message: String) async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let r = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: json)
            #expect(r.status == 400, "\(r.text)")
            #expect(r.error == message)
            let policy = try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/policy")
            #expect((policy.json["allow_rules"] as? [Any])?.isEmpty == true)
            #expect((policy.json["deny_rules"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("a duplicate key inside a nested rule names where it is")
    func duplicateNested() async throws {
        try await withAPI { api in
            let r = try await api.admin(.put, "/api/v1/network/policy",
                                        json: #"{"deny_rules": [{"host": "a.test", "host": "b.test"}]}"#)
            #expect(r.error == #"field "host" is given twice in deny_rules[0]; give each field once"#)
        }
    }

    @Test("PATCH name: null removes the name (the decoding layer tells null from left out); left out keeps it")
    func nullName() async throws {
        try await withAPI { api in
            let id = try await api.sandbox(#"{"name": "named"}"#)
            let kept = try await api.admin(.patch, "/api/v1/sandboxes/\(id)", json: #"{"source_addresses": []}"#)
            #expect(kept.json["name"] as? String == "named")
            let cleared = try await api.admin(.patch, "/api/v1/sandboxes/\(id)", json: #"{"name": null}"#)
            #expect(cleared.status == 200)
            #expect(cleared.json["name"] is NSNull, "\(cleared.text)")
        }
    }

    @Test("an exported policy (as portcullis export writes it) is accepted back")
    func exportedRoundTrip() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let body = #"{"mode": "allowlist", "allow_rules": [{"action": "allow", "host": "a.test", "port": 443, "protocol": "tcp", "methods": ["GET"], "paths": ["/v1/*"], "warn_only": false, "note": null}], "deny_rules": [{"host": "b.test", "except": null}], "profiles": ["pypi"]}"#
            let r = try await api.admin(.put, "/api/v1/sandboxes/\(id)/network/policy", json: body)
            #expect(r.status == 200, "\(r.text)")
            #expect(r.json["own_mode"] as? String == "allowlist")
        }
    }
}
