import Foundation
import Testing

/// A policy read with GET can be sent back (API.md: "replace from an exported policy"; "a
/// template body is an exported policy plus `name`"): the answer-only fields are accepted
/// and not used, a rule of another layer is refused naming its `source`, and a misspelt
/// field is still refused.
@Suite("Policy round trip")
struct PolicyRoundTripTests {
    /// What a rule says, without what only answers have (id, source, created_at).
    static func meaning(_ rules: Any?) -> [String] {
        let fields = ["action", "host", "port", "protocol", "methods", "paths", "warn_only", "inspect", "except", "note"]
        return (rules as? [[String: Any]] ?? []).map { rule in
            let kept = rule.filter { fields.contains($0.key) }
            let data = (try? JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    static func json(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    /// A sandbox with rules of every shape, an attached profile and its own mode.
    static func richSandbox(_ api: API) async throws -> String {
        let a = try await api.sandbox(#"{"profiles": ["pypi"]}"#)
        for rule in [
            #"{"action": "allow", "host": "api.openai.com", "port": 443, "methods": ["POST"], "paths": ["/v1/*"], "warn_only": true, "note": "trial"}"#,
            #"{"action": "allow", "host": "*.github.com", "protocol": "tcp", "inspect": false}"#,
            #"{"action": "allow", "host": "10.1.2.0/24", "port": 53, "protocol": "udp"}"#,
            #"{"action": "deny", "host": "*.corp.example", "except": ["jira.corp.example"], "note": "no intranet"}"#,
        ] {
            let r = try await api.admin(.post, "/api/v1/sandboxes/\(a)/network/rules", json: rule)
            #expect(r.status == 201, "\(r.text)")
        }
        #expect(try await api.admin(.post, "/api/v1/sandboxes/\(a)/network/lockdown").status == 200)
        return a
    }

    @Test("GET A, PUT the whole answer into B, GET B: the same mode, own mode, profiles and rules; new ids, local source")
    func sandboxWhole() async throws {
        try await withAPI { api in
            let a = try await Self.richSandbox(api)
            let b = try await api.sandbox()
            let read = try await api.admin(.get, "/api/v1/sandboxes/\(a)/network/policy")
            let put = try await api.admin(.put, "/api/v1/sandboxes/\(b)/network/policy", json: read.text)
            #expect(put.status == 200, "\(put.text)")
            let got = try await api.admin(.get, "/api/v1/sandboxes/\(b)/network/policy").json
            let want = read.json
            #expect(got["mode"] as? String == "allowlist" && want["mode"] as? String == "allowlist")
            #expect(got["own_mode"] as? String == "allowlist")
            #expect(got["profiles"] as? [String] == ["pypi"])
            #expect(Self.meaning(got["allow_rules"]) == Self.meaning(want["allow_rules"]))
            #expect(Self.meaning(got["deny_rules"]) == Self.meaning(want["deny_rules"]))
            #expect(Self.meaning(got["allow_rules"]).count == 3 && Self.meaning(got["deny_rules"]).count == 1)
            let ids = { (j: [String: Any]) in ((j["allow_rules"] as? [[String: Any]] ?? []) + (j["deny_rules"] as? [[String: Any]] ?? [])).compactMap { $0["id"] as? String } }
            #expect(Set(ids(got)).isDisjoint(with: ids(want)), "rules copied into another sandbox get their own ids")
            let sources = (got["allow_rules"] as? [[String: Any]] ?? []).map { $0["source"] as? String }
            #expect(sources.allSatisfy { $0 == "local" })
            #expect(got["sandbox_id"] as? String == b, "sandbox_id in the body is not used")
            // A's policy did not change.
            let again = try await api.admin(.get, "/api/v1/sandboxes/\(a)/network/policy").json
            #expect(ids(again) == ids(want))
        }
    }

    @Test("only the four exported fields, with the rules as the GET returned them")
    func sandboxFourFields() async throws {
        try await withAPI { api in
            let a = try await Self.richSandbox(api)
            let b = try await api.sandbox()
            let read = try await api.admin(.get, "/api/v1/sandboxes/\(a)/network/policy").json
            let body = ["mode": read["mode"]!, "allow_rules": read["allow_rules"]!, "deny_rules": read["deny_rules"]!, "profiles": read["profiles"]!]
            let put = try await api.admin(.put, "/api/v1/sandboxes/\(b)/network/policy", json: try Self.json(body))
            #expect(put.status == 200, "\(put.text)")
            #expect(put.json["mode"] as? String == "allowlist")
            #expect(Self.meaning(put.json["allow_rules"]) == Self.meaning(read["allow_rules"]))
            #expect(Self.meaning(put.json["deny_rules"]) == Self.meaning(read["deny_rules"]))
            // Sent back to itself: nothing changes, the ids are kept.
            let same = try await api.admin(.put, "/api/v1/sandboxes/\(a)/network/policy", json: try Self.json(read))
            #expect(same.status == 200, "\(same.text)")
            #expect((same.json["allow_rules"] as? [[String: Any]])?.map { $0["id"] as? String }
                == (read["allow_rules"] as? [[String: Any]])?.map { $0["id"] as? String })
        }
    }

    @Test("own_mode null: the copy follows its tenant as the original did; an edited mode is applied")
    func followsTenant() async throws {
        try await withAPI { api in
            let a = try await api.sandbox()
            let b = try await api.sandbox()
            let read = try await api.admin(.get, "/api/v1/sandboxes/\(a)/network/policy")
            #expect(read.json["own_mode"] is NSNull && read.json["mode"] as? String == "audit")
            let put = try await api.admin(.put, "/api/v1/sandboxes/\(b)/network/policy", json: read.text)
            #expect(put.status == 200, "\(put.text)")
            #expect(put.json["own_mode"] is NSNull, "B follows the tenant, as A does")
            #expect(try await api.admin(.post, "/api/v1/network/lockdown").status == 200)
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(b)/network/policy").json["mode"] as? String == "allowlist")

            var edited = read.json
            edited["mode"] = "denylist"
            let pinned = try await api.admin(.put, "/api/v1/sandboxes/\(b)/network/policy", json: try Self.json(edited))
            #expect(pinned.json["mode"] as? String == "denylist" && pinned.json["own_mode"] as? String == "denylist",
                    "mode is what is applied: \(pinned.text)")
            let ownOnly = try await api.admin(.put, "/api/v1/sandboxes/\(b)/network/policy", json: #"{"own_mode": "isolated"}"#)
            #expect(ownOnly.json["own_mode"] as? String == "isolated", "without mode, a non-null own_mode is applied")
            let both = try await api.admin(.put, "/api/v1/sandboxes/\(b)/network/policy", json: #"{"mode": "audit", "own_mode": "isolated"}"#)
            #expect(both.json["own_mode"] as? String == "audit", "mode wins over own_mode")
        }
    }

    @Test("a rule of another layer is refused naming its source; without source it is copied as a local rule")
    func foreignSource() async throws {
        try await withAPI { api in
            let a = try await Self.richSandbox(api)
            #expect(try await api.admin(.post, "/api/v1/network/rules", json: #"{"action": "allow", "host": "tenant.test"}"#).status == 201)
            let b = try await api.sandbox()
            let before = try await api.admin(.get, "/api/v1/sandboxes/\(b)/network/policy").text
            let read = try await api.admin(.get, "/api/v1/sandboxes/\(a)/network/policy").json
            let effective = try #require(read["effective"] as? [String: Any])
            let allow = try #require(effective["allow_rules"] as? [[String: Any]])
            let firstForeign = try #require(allow.firstIndex { $0["source"] as? String != "local" })
            let foreign = allow[firstForeign]["source"] as? String ?? ""
            let r = try await api.admin(.put, "/api/v1/sandboxes/\(b)/network/policy", json: try Self.json(["allow_rules": allow]))
            #expect(r.status == 400)
            #expect(r.error?.hasPrefix("allow_rules[\(firstForeign)].source is \"\(foreign)\", not \"local\":") == true, "\(r.text)")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(b)/network/policy").text == before, "nothing changed")

            let tenantRule = try #require(allow.first { $0["source"] as? String == "tenant" })
            let t = try await api.admin(.put, "/api/v1/sandboxes/\(b)/network/policy", json: try Self.json(["deny_rules": [], "allow_rules": [tenantRule]]))
            #expect(t.status == 400 && t.error?.hasPrefix(#"allow_rules[0].source is "tenant", not "local""#) == true, "\(t.text)")
            var local = tenantRule
            local["source"] = nil
            let copied = try await api.admin(.put, "/api/v1/sandboxes/\(b)/network/policy", json: try Self.json(["allow_rules": [local]]))
            #expect(copied.status == 200, "\(copied.text)")
            #expect((copied.json["allow_rules"] as? [[String: Any]])?.first?["source"] as? String == "local")
        }
    }

    @Test("the tenant policy: GET, PUT back whole; a local rule is refused there")
    func tenantPolicy() async throws {
        try await withAPI { api in
            let put = try await api.admin(.put, "/api/v1/network/policy", json: """
                {"default_mode": "denylist", "allow_rules": [{"host": "pypi.org", "port": 443, "methods": ["GET"], "note": "n"}],
                 "deny_rules": [{"host": "*.corp.example", "except": ["a.corp.example"]}], "default_profiles": ["github"]}
                """)
            #expect(put.status == 200, "\(put.text)")
            let read = try await api.admin(.get, "/api/v1/network/policy")
            let back = try await api.admin(.put, "/api/v1/network/policy", json: read.text)
            #expect(back.status == 200, "\(back.text)")
            let got = try await api.admin(.get, "/api/v1/network/policy").json
            #expect(got["default_mode"] as? String == "denylist" && got["default_profiles"] as? [String] == ["github"])
            #expect(Self.meaning(got["allow_rules"]) == Self.meaning(read.json["allow_rules"]) && Self.meaning(got["allow_rules"]).count == 1)
            #expect(Self.meaning(got["deny_rules"]) == Self.meaning(read.json["deny_rules"]) && Self.meaning(got["deny_rules"]).count == 1)

            let sid = try await api.sandbox()
            #expect(try await api.admin(.post, "/api/v1/sandboxes/\(sid)/network/rules", json: #"{"action": "allow", "host": "x.test"}"#).status == 201)
            let local = try await api.admin(.get, "/api/v1/sandboxes/\(sid)/network/policy").json["allow_rules"] ?? []
            let refused = try await api.admin(.put, "/api/v1/network/policy", json: try Self.json(["allow_rules": local]))
            #expect(refused.status == 400 && refused.error?.hasPrefix(#"allow_rules[0].source is "local", not "tenant""#) == true, "\(refused.text)")
        }
    }

    @Test("templates: a sandbox policy plus name is POSTed, a template GET is PUT back and POSTed under a new name")
    func templates() async throws {
        try await withAPI { api in
            let a = try await Self.richSandbox(api)
            var read = try await api.admin(.get, "/api/v1/sandboxes/\(a)/network/policy").json
            read["name"] = "from-a"
            let created = try await api.admin(.post, "/api/v1/templates", json: try Self.json(read))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json["mode"] as? String == "allowlist" && created.json["profiles"] as? [String] == ["pypi"])
            #expect(Self.meaning(created.json["allow_rules"]) == Self.meaning(read["allow_rules"]))
            #expect(Self.meaning(created.json["deny_rules"]) == Self.meaning(read["deny_rules"]))

            let template = try await api.admin(.get, "/api/v1/templates/from-a")
            let replaced = try await api.admin(.put, "/api/v1/templates/from-a", json: template.text)
            #expect(replaced.status == 200, "\(replaced.text)")
            #expect(Self.meaning(replaced.json["allow_rules"]) == Self.meaning(template.json["allow_rules"]))
            #expect(replaced.json["created_at"] as? String == template.json["created_at"] as? String)

            var copy = template.json
            copy["name"] = "copy"
            let second = try await api.admin(.post, "/api/v1/templates", json: try Self.json(copy))
            #expect(second.status == 201, "\(second.text)")
            let made = try await api.sandbox(#"{"template": "copy"}"#)
            let policy = try await api.admin(.get, "/api/v1/sandboxes/\(made)/network/policy").json
            #expect(policy["mode"] as? String == "allowlist")
            #expect(Self.meaning(policy["allow_rules"]) == Self.meaning(read["allow_rules"]))
            #expect(Self.meaning(policy["deny_rules"]) == Self.meaning(read["deny_rules"]))
        }
    }

    @Test("answer-only fields hold anything, null included (effective is never read)")
    func answerOnlyValues() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let r = try await api.admin(.put, "/api/v1/sandboxes/\(id)/network/policy", json: """
                {"mode": "denylist", "effective": null, "sandbox_id": "sbx_elsewhere", "policy_version": 7, "updated_at": "not a time",
                 "deny_rules": [{"host": "evil.test", "id": "rul_x", "created_at": "", "source": "local"}]}
                """)
            #expect(r.status == 200, "\(r.text)")
            #expect(r.json["sandbox_id"] as? String == id && r.json["mode"] as? String == "denylist")
            let rule = (r.json["deny_rules"] as? [[String: Any]])?.first
            #expect(rule?["id"] as? String != "rul_x" && (rule?["created_at"] as? String)?.hasPrefix("20") == true)
            let effective = try await api.admin(.put, "/api/v1/sandboxes/\(id)/network/policy",
                                                json: #"{"effective": {"mode": "unrestricted", "allow_rules": [{"host": "x.test"}]}}"#)
            #expect(effective.status == 200 && effective.json["mode"] as? String == "audit", "the effective view is never applied")
            #expect((effective.json["allow_rules"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("template PUT takes name equal to the path's, refuses another (naming name)")
    func templateName() async throws {
        try await withAPI { api in
            #expect(try await api.admin(.post, "/api/v1/templates", json: #"{"name": "python-ds", "mode": "audit"}"#).status == 201)
            let same = try await api.admin(.put, "/api/v1/templates/python-ds", json: #"{"name": "python-ds", "mode": "allowlist"}"#)
            #expect(same.status == 200, "\(same.text)")
            #expect(same.json["mode"] as? String == "allowlist")
            let other = try await api.admin(.put, "/api/v1/templates/python-ds", json: #"{"name": "other", "mode": "denylist"}"#)
            #expect(other.status == 400)
            #expect(other.error == #"name: a template keeps its name; this is "python-ds", not "other" (create a new one to rename)"#)
            #expect(try await api.admin(.get, "/api/v1/templates/python-ds").json["mode"] as? String == "allowlist")
            #expect(try await api.admin(.get, "/api/v1/templates/other").status == 404)
        }
    }

    @Test("a field no answer defines is still refused, with the field meant", arguments: [
        ("PUT", "/api/v1/sandboxes/{id}/network/policy", #"{"mode": "audit", "efective": {}}"#, #"unknown field "efective"; did you mean "effective"?"#),
        ("PUT", "/api/v1/sandboxes/{id}/network/policy", #"{"allow_rules": [{"host": "a.test", "sorce": "local"}]}"#,
         #"unknown field "sorce" in allow_rules[0]; did you mean "source"?"#),
        ("PUT", "/api/v1/sandboxes/{id}/network/policy", #"{"name": "x"}"#,
         #"unknown field "name"; the fields of this body are "mode", "allow_rules", "deny_rules", "profiles", "sandbox_id", "own_mode", "policy_version", "updated_at" and "effective""#),
        ("PUT", "/api/v1/network/policy", #"{"tenant_idd": "t"}"#, #"unknown field "tenant_idd"; did you mean "tenant_id"?"#),
        ("PUT", "/api/v1/network/policy", #"{"own_mode": "audit"}"#,
         #"unknown field "own_mode"; the fields of this body are "default_mode", "default_profiles", "allow_rules", "deny_rules", "tenant_id", "policy_version" and "updated_at""#),
        ("PUT", "/api/v1/templates/t", #"{"nmae": "t"}"#, #"unknown field "nmae"; did you mean "name"?"#),
        ("POST", "/api/v1/templates", #"{"name": "t", "updatedat": "x"}"#, #"unknown field "updatedat"; did you mean "updated_at"?"#),
    ])
    func misspelt(method: String, path: String, json: String, message: String) async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            #expect(try await api.admin(.post, "/api/v1/templates", json: #"{"name": "t"}"#).status == 201)
            let r = try await api.admin(method == "PUT" ? .put : .post, path.replacingOccurrences(of: "{id}", with: id), json: json)
            #expect(r.status == 400)
            #expect(r.error == message, "\(r.text)")
        }
    }
}
