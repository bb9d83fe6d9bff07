import Foundation
import PortcullisPolicy
import Testing

@Suite("API: sandboxes, rules, lockdown")
struct SandboxAPITests {
    @Test("a missing or wrong API key is 401 with a JSON error, on every /api route")
    func unauthorized() async throws {
        try await withAPI { api in
            for (method, path) in [(HTTPMethodName.get, "/api/v1/sandboxes"), (.post, "/api/v1/sandboxes"), (.get, "/api/v1/network/policy"),
                                   (.get, "/api/v1/audit"), (.get, "/api/v1/computers/sbx_x/network-policy"), (.get, "/api/v1/profiles")] {
                let none = try await api.call(method.value, path)
                #expect(none.status == 401, "\(path)")
                #expect(none.error == "missing or invalid API key")
                let wrong = try await api.call(method.value, path, key: "nope", json: "{}")
                #expect(wrong.status == 401, "\(path)")
            }
        }
    }

    @Test("creating a sandbox answers 201 with its proxy settings; it starts in the tenant's default mode, audit")
    func create() async throws {
        try await withAPI { api in
            let r = try await api.admin(.post, "/api/v1/sandboxes", json: #"{"name": "agent-1"}"#)
            #expect(r.status == 201)
            let id = try #require(r.json["id"] as? String)
            #expect(id.hasPrefix("sbx_"))
            #expect(r.json["mode"] as? String == "audit")
            #expect(r.json["own_mode"] is NSNull)
            #expect(r.json["name"] as? String == "agent-1")
            let proxy = try #require(r.json["proxy"] as? [String: Any])
            #expect(proxy["username"] as? String == id)
            #expect((proxy["http_url"] as? String)?.hasPrefix("http://\(id):") == true)
            let got = try await api.admin(.get, "/api/v1/sandboxes/\(id)")
            #expect(got.status == 200)
            #expect(got.json["id"] as? String == id)
            let list = try await api.admin(.get, "/api/v1/sandboxes")
            #expect(list.items.map { $0["id"] as? String } == [id])
            #expect(list.json["next_cursor"] == nil)
            #expect(try await api.admin(.delete, "/api/v1/sandboxes/\(id)").status == 204)
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)").error == "sandbox not found")
        }
    }

    @Test("Isorun create-time network: allow makes allowlist, deny alone makes denylist; network_profile attaches")
    func createTimeNetwork() async throws {
        try await withAPI { api in
            let a = try await api.admin(.post, "/api/v1/sandboxes", json: #"{"network": {"deny": ["0.0.0.0/0"], "allow": ["api.openai.com", "pypi.org"]}}"#)
            #expect(a.json["mode"] as? String == "allowlist")
            let d = try await api.admin(.post, "/api/v1/sandboxes", json: #"{"network": {"deny": ["169.254.169.254", "metadata.google.internal"]}}"#)
            #expect(d.json["mode"] as? String == "denylist")
            let p = try await api.admin(.post, "/api/v1/sandboxes", json: #"{"networkProfile": "anthropic"}"#)
            #expect(p.json["profiles"] as? [String] == ["anthropic"])
            let id = try #require(a.json["id"] as? String)
            let explain = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain", json: #"{"host": "example.com", "port": 443}"#)
            #expect(explain.json["action"] as? String == "reject")
            #expect(explain.json["rejected_by"] as? String == "default-deny")
            let ok = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain", json: #"{"host": "pypi.org", "port": 443, "resolved": "151.101.0.223"}"#)
            #expect(ok.json["action"] as? String == "allow")
            #expect(ok.json["address"] as? String == "151.101.0.223")
        }
    }

    @Test("bad fields are 400 with a message naming the field", arguments: [
        (#"{"network": {"allow": ["*.com"]}}"#, "network.allow[0]: host:"),
        (#"{"mode": "strict"}"#, #"mode must be one of unrestricted, audit (or observe), allowlist (or enforce), denylist, isolated, not "strict""#),
        (#"{"template": "a", "clone_from": "sbx_x"}"#, "not both"),
        (#"{"source_addresses": ["not-ip"]}"#, "is not an IP address"),
        (#"{"name": 7}"#, "name has the wrong type"),
        (#"{"network": {"allow": ["a..b"]}}"#, "network.allow[0]"),
    ])
    func badCreate(json: String, fragment: String) async throws {
        try await withAPI { api in
            let r = try await api.admin(.post, "/api/v1/sandboxes", json: json)
            #expect(r.status == 400, "\(r.text)")
            #expect(r.error?.contains(fragment) == true, "\(r.text)")
        }
    }

    @Test("unknown names in a create body are 404")
    func unknownNames() async throws {
        try await withAPI { api in
            let template = try await api.admin(.post, "/api/v1/sandboxes", json: #"{"template": "nope"}"#)
            #expect(template.error == "template nope not found")
            let profile = try await api.admin(.post, "/api/v1/sandboxes", json: #"{"profiles": ["nope"]}"#)
            #expect(profile.error == "profile nope not found")
            #expect(try await api.admin(.post, "/api/v1/sandboxes", json: #"{"clone_from": "sbx_nope"}"#).status == 404)
        }
    }

    @Test("rules: add, list in the policy, remove one, clear; profile rules cannot be removed from the sandbox")
    func rules() async throws {
        try await withAPI { api in
            let id = try await api.sandbox(#"{"profiles": ["pypi"]}"#)
            let add = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules",
                                          json: #"{"action": "allow", "host": "API.OpenAI.com", "port": 443, "methods": ["post"], "warn_only": true, "note": "trial"}"#)
            #expect(add.status == 201, "\(add.text)")
            #expect(add.json["host"] as? String == "api.openai.com")
            #expect(add.json["methods"] as? [String] == ["POST"])
            #expect(add.json["paths"] is NSNull)
            #expect(add.json["source"] as? String == "local")
            #expect(add.json["protocol"] as? String == "any")
            let ruleID = try #require(add.json["id"] as? String)
            let again = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules",
                                            json: #"{"action": "allow", "host": "api.openai.com", "port": 443, "methods": ["POST"], "warn_only": true}"#)
            #expect(again.json["id"] as? String == ruleID, "an identical rule is not stored twice")
            let deny = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "deny", "host": "*.corp.example", "except": ["jira.corp.example"]}"#)
            #expect(deny.status == 201)
            let policy = try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/policy")
            #expect((policy.json["allow_rules"] as? [Any])?.count == 1)
            #expect((policy.json["deny_rules"] as? [Any])?.count == 1)
            let effective = try #require(policy.json["effective"] as? [String: Any])
            let effectiveAllow = try #require(effective["allow_rules"] as? [[String: Any]])
            #expect(effectiveAllow.contains { $0["source"] as? String == "profile:pypi" && $0["host"] as? String == "files.pythonhosted.org" })
            let profileRule = try #require(effectiveAllow.first { $0["source"] as? String == "profile:pypi" }?["id"] as? String)
            let refused = try await api.admin(.delete, "/api/v1/sandboxes/\(id)/network/rules/\(profileRule)")
            #expect(refused.status == 409)
            #expect(refused.error?.contains("profile:pypi") == true)
            #expect(try await api.admin(.delete, "/api/v1/sandboxes/\(id)/network/rules/rul_nope").error == "rule not found")
            #expect(try await api.admin(.delete, "/api/v1/sandboxes/\(id)/network/rules/\(ruleID)").status == 204)
            let cleared = try await api.admin(.delete, "/api/v1/sandboxes/\(id)/network/rules")
            #expect(cleared.status == 200)
            #expect((cleared.json["deny_rules"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("bad rules are 400 with the engine's message", arguments: [
        (#"{"action": "allow", "host": "10.0.0.1/8"}"#, "did you mean 10.0.0.0/8?"),
        (#"{"action": "allow", "host": "x.test", "port": 70000}"#, "port must be between 1 and 65535"),
        (#"{"action": "deny", "host": "x.test", "methods": ["GET"]}"#, "methods apply to allow rules only"),
        (#"{"action": "allow", "host": "*"}"#, "alone is not a host"),
        (#"{"action": "allow", "host": "http://x.test/path"}"#, "host:"),
        (#"{"action": "permit", "host": "x.test"}"#, "action has an invalid value"),
        (#"{"host": "x.test"}"#, "action is required"),
    ])
    func badRules(json: String, fragment: String) async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let r = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: json)
            #expect(r.status == 400, "\(r.text)")
            #expect(r.error?.contains(fragment) == true, "\(r.text)")
        }
    }

    @Test("lockdown with the confirmed hosts switches to allowlist and keeps rules; observe rolls back keeping them")
    func lockdownObserve() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            _ = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "deny", "host": "169.254.169.254"}"#)
            let locked = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/lockdown", json: #"{"hosts": ["api.openai.com", "pypi.org"]}"#)
            #expect(locked.status == 200, "\(locked.text)")
            #expect(locked.json["mode"] as? String == "allowlist")
            #expect(locked.json["own_mode"] as? String == "allowlist")
            #expect((locked.json["allow_rules"] as? [[String: Any]])?.compactMap { $0["host"] as? String } == ["api.openai.com", "pypi.org"])
            #expect((locked.json["deny_rules"] as? [Any])?.count == 1)
            let observed = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/observe")
            #expect(observed.json["mode"] as? String == "audit")
            #expect((observed.json["allow_rules"] as? [Any])?.count == 2, "observe keeps rules")
            let relocked = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/lockdown")
            #expect((relocked.json["allow_rules"] as? [Any])?.count == 2)
            #expect(relocked.json["policy_version"] as? Int ?? 0 > observed.json["policy_version"] as? Int ?? 0)
        }
    }
}

/// HTTPRequest.Method by name, for tables.
enum HTTPMethodName {
    case get, post, put, delete, patch
    var value: HTTPTypes.HTTPRequest.Method {
        switch self {
        case .get: .get
        case .post: .post
        case .put: .put
        case .delete: .delete
        case .patch: .patch
        }
    }
}

import HTTPTypes

@Suite("API: wire format")
struct WireFormatTests {
    @Test("times are RFC 3339 strings and nullable fields are present as null")
    func timesAndNulls() async throws {
        try await withAPI { api in
            let r = try await api.admin(.post, "/api/v1/sandboxes", json: "{}")
            let created = try #require(r.json["created_at"] as? String)
            #expect(created.hasSuffix("Z") && created.contains("T"), "\(created)")
            let id = try #require(r.json["id"] as? String)
            let rule = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "a.test"}"#)
            #expect(rule.json["created_at"] is String)
            #expect(rule.json["port"] is NSNull)
            #expect(rule.json["note"] is NSNull)
            let policy = try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/policy")
            #expect(policy.json["updated_at"] is String)
            #expect(((policy.json["allow_rules"] as? [[String: Any]])?.first?["created_at"]) is String)
        }
    }
}
