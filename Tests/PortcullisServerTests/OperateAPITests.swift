import Foundation
import PortcullisModel
import PortcullisPolicy
import Testing

@Suite("API: pending, suggestions, audit")
struct OperateAPITests {
    static func event(_ sandbox: String, _ host: String, port: Int = 443, action: AuditAction = .allow, rejectedBy: String? = nil,
                      ago seconds: Int64 = 60) -> AuditEvent {
        AuditEvent(time: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) - seconds * 1000),
                   tenantID: "tnt_default", sandboxID: sandbox, client: "127.0.0.1:5000", via: .connect, host: host, port: port,
                   action: action, rejectedBy: rejectedBy, reason: "test", policyVersion: 1)
    }

    @Test("a pending entry is allowed in one click, adding an exact rule, and leaves the queue")
    func pendingAllow() async throws {
        try await withAPI { api in
            let id = try await api.sandbox(#"{"mode": "enforce"}"#)
            let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
            try await api.control.recordPending(sandboxID: id, host: "example.com", port: 443, at: now)
            try await api.control.recordPending(sandboxID: id, host: "example.com", port: 443, at: now.adding(milliseconds: 1000))
            let list = try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/pending")
            #expect(list.status == 200)
            let entry = try #require(list.items.first)
            #expect(entry["host"] as? String == "example.com")
            #expect(entry["count"] as? Int == 2)
            #expect(entry["port"] as? Int == 443)
            let pid = try #require(entry["id"] as? String)
            #expect(pid.hasPrefix("pnd_"))
            let allowed = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/pending/\(pid)/allow")
            #expect(allowed.status == 200, "\(allowed.text)")
            let rule = try #require(allowed.json["rule"] as? [String: Any])
            #expect(rule["host"] as? String == "example.com")
            #expect(rule["port"] as? Int == 443)
            #expect(rule["action"] as? String == "allow")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/pending").items.isEmpty)
            let explain = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain", json: #"{"host": "example.com", "port": 443}"#)
            #expect(explain.json["action"] as? String == "allow")
            #expect(try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/pending/\(pid)/allow").error == "pending entry not found")
        }
    }

    @Test("the pending queue is paged, most recently seen first, with next_cursor until the last page")
    func pendingPaged() async throws {
        try await withAPI { api in
            let id = try await api.sandbox(#"{"mode": "enforce"}"#)
            for i in 0..<5 {
                try await api.control.recordPending(sandboxID: id, host: "h\(i).example", port: 443, at: Timestamp(milliseconds: Int64(1_000 + i)))
            }
            var hosts: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let path = "/api/v1/sandboxes/\(id)/network/pending?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await api.admin(.get, path)
                #expect(page.status == 200, "\(page.text)")
                #expect(page.items.count <= 2)
                hosts += page.items.compactMap { $0["host"] as? String }
                cursor = page.json["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(hosts == ["h4.example", "h3.example", "h2.example", "h1.example", "h0.example"])
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/pending?limit=0").status == 400)
        }
    }

    @Test("blocking tenant-wide adds a tenant deny rule that every sandbox of the tenant meets")
    func pendingBlockTenant() async throws {
        try await withAPI { api in
            let id = try await api.sandbox(#"{"mode": "allowlist"}"#)
            let other = try await api.sandbox()
            try await api.control.recordPending(sandboxID: id, host: "ifconfig.me", port: 443, at: Timestamp(milliseconds: 1))
            let pid = try #require(try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/pending").items.first?["id"] as? String)
            let blocked = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/pending/\(pid)/block", json: #"{"scope": "tenant"}"#)
            #expect(blocked.status == 200, "\(blocked.text)")
            #expect((blocked.json["rule"] as? [String: Any])?["source"] as? String == "tenant")
            let e = try await api.admin(.post, "/api/v1/sandboxes/\(other)/network/explain", json: #"{"host": "ifconfig.me", "port": 443}"#)
            #expect(e.json["would_reject"] as? Bool == true)
            #expect((e.json["rejected_by"] as? String)?.hasPrefix("rul_") == true)
        }
    }

    @Test("suggestions count hosts in the window and recommend; lockdown from_suggestions allows all but deny")
    func suggestions() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            var events: [AuditEvent] = []
            for _ in 0..<5 { events.append(Self.event(id, "api.openai.com")) }
            for _ in 0..<2 { events.append(Self.event(id, "169.254.169.254", port: 80)) }
            events.append(Self.event(id, "ifconfig.me"))
            events.append(Self.event(id, "old.example", ago: 10 * 86_400))
            _ = try await api.store.append(events)
            let s = try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/suggestions?since=7d")
            #expect(s.status == 200, "\(s.text)")
            #expect(s.json["since"] as? String == "7d")
            let items = s.items
            #expect(items.map { $0["host"] as? String } == ["api.openai.com", "169.254.169.254", "ifconfig.me"])
            #expect(items[0]["count"] as? Int == 5)
            #expect(items[0]["recommendation"] as? String == "keep")
            #expect(items[1]["recommendation"] as? String == "deny")
            #expect(items[2]["recommendation"] as? String == "question")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/suggestions?since=forever").status == 400)
            let locked = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/lockdown", json: #"{"from_suggestions": "7d"}"#)
            let hosts = (locked.json["allow_rules"] as? [[String: Any]])?.compactMap { $0["host"] as? String } ?? []
            #expect(Set(hosts) == ["api.openai.com", "ifconfig.me"])
        }
    }

    @Test("the audit log is filtered, newest first, paged with a cursor, and scoped to the tenant")
    func audit() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            var events: [AuditEvent] = []
            for i in 0..<5 { events.append(Self.event(id, "h\(i).example", ago: Int64(100 - i))) }
            events.append(Self.event(id, "blocked.example", action: .reject, rejectedBy: "default-deny", ago: 1))
            _ = try await api.store.append(events)
            let rejects = try await api.admin(.get, "/api/v1/audit?action=reject")
            #expect(rejects.items.count == 1)
            #expect(rejects.items[0]["rejected_by"] as? String == "default-deny")
            #expect(rejects.items[0]["sni"] is NSNull, "nullable fields are present as null")
            let page1 = try await api.admin(.get, "/api/v1/audit?sandbox=\(id)&limit=4")
            #expect(page1.items.count == 4)
            #expect(page1.items[0]["host"] as? String == "blocked.example")
            let cursor = try #require(page1.json["next_cursor"] as? String)
            let page2 = try await api.admin(.get, "/api/v1/audit?sandbox=\(id)&limit=4&cursor=\(cursor)")
            #expect(page2.items.map { $0["host"] as? String } == ["h1.example", "h0.example"])
            #expect(page2.json["next_cursor"] == nil)
            let other = try await api.otherTenantKey()
            #expect(try await api.call(.get, "/api/v1/audit", key: other).items.isEmpty)
            #expect(try await api.admin(.get, "/api/v1/audit?limit=0").status == 400)
            let export = try await api.admin(.get, "/api/v1/audit/export?sandbox=\(id)")
            #expect(export.status == 200)
            let lines = export.text.split(separator: "\n")
            #expect(lines.count == 6)
            #expect(lines.first?.contains("h0.example") == true, "export is oldest first")
        }
    }

    @Test("an export of more than a page is streamed whole, oldest first, each entry once")
    func exportOfManyPages() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let n = 2_345
            let events = (0..<n).map { i in
                AuditEvent(time: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) - Int64(10_000_000 - i * 1000)),
                           tenantID: "tnt_default", sandboxID: id, client: "127.0.0.1:5000", via: .connect, host: "h\(i).example",
                           port: 443, action: .allow, reason: "test", policyVersion: 1)
            }
            _ = try await api.store.append(events)
            let export = try await api.admin(.get, "/api/v1/audit/export?sandbox=\(id)")
            #expect(export.status == 200)
            let hosts = export.text.split(separator: "\n").map { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))).flatMap { ($0 as? [String: Any])?["host"] as? String }
            }
            #expect(hosts.count == n && hosts == (0..<n).map { "h\($0).example" }, "\(hosts.prefix(3)) … \(hosts.suffix(3))")
        }
    }
}

@Suite("API: profiles, templates, tenant policy")
struct ProfileTemplateAPITests {
    @Test("built-in profiles are listed with their hosts and answer 409 to every change")
    func builtins() async throws {
        try await withAPI { api in
            let list = try await api.admin(.get, "/api/v1/profiles")
            let names = list.items.compactMap { $0["name"] as? String }
            for n in ["default-ai-services", "default-package-managers", "default-code-and-containers", "default-cloud-infrastructure",
                      "default-os-packages", "openai", "anthropic", "huggingface", "github", "pypi", "npm"] {
                #expect(names.contains(n), "\(n)")
            }
            let pypi = try await api.admin(.get, "/api/v1/profiles/pypi")
            #expect(pypi.json["builtin"] as? Bool == true)
            #expect(Set(pypi.json["hosts"] as? [String] ?? []).isSuperset(of: ["pypi.org", "files.pythonhosted.org", "pythonhosted.org"]))
            for method in [HTTPMethodName.post, .put] {
                let r = try await api.admin(method.value, "/api/v1/profiles/pypi", json: #"{"rules": []}"#)
                #expect(r.status == 409)
                #expect(r.error == "profile pypi is built in and cannot be changed")
            }
            #expect(try await api.admin(.delete, "/api/v1/profiles/pypi").status == 409)
            #expect(try await api.admin(.get, "/api/v1/profiles/nope").status == 404)
        }
    }

    @Test("a tenant profile is live: editing it changes every sandbox that uses it")
    func tenantProfile() async throws {
        try await withAPI { api in
            let created = try await api.admin(.post, "/api/v1/profiles/internal-apis", json: #"{"description": "ours", "rules": [{"action": "allow", "host": "api.internal.example"}]}"#)
            #expect(created.status == 201, "\(created.text)")
            #expect(try await api.admin(.post, "/api/v1/profiles/internal-apis", json: #"{"rules": []}"#).status == 409)
            let id = try await api.sandbox(#"{"mode": "allowlist", "profiles": ["internal-apis"]}"#)
            let explain = { (host: String) in
                try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain", json: #"{"host": "\#(host)", "port": 443}"#).json["action"] as? String
            }
            #expect(try await explain("api.internal.example") == "allow")
            _ = try await api.admin(.put, "/api/v1/profiles/internal-apis", json: #"{"rules": [{"action": "allow", "host": "v2.internal.example"}]}"#)
            #expect(try await explain("api.internal.example") == "reject")
            #expect(try await explain("v2.internal.example") == "allow")
            #expect(try await api.admin(.delete, "/api/v1/profiles/internal-apis").status == 409, "in use")
            _ = try await api.admin(.delete, "/api/v1/sandboxes/\(id)/network/profiles/internal-apis")
            #expect(try await api.admin(.delete, "/api/v1/profiles/internal-apis").status == 204)
        }
    }

    @Test("templates are copied at creation; later edits do not reach the sandbox")
    func templates() async throws {
        try await withAPI { api in
            let t = try await api.admin(.post, "/api/v1/templates", json: #"{"name": "python-ds", "mode": "allowlist", "allow_rules": [{"host": "pypi.org"}], "profiles": ["pypi"]}"#)
            #expect(t.status == 201, "\(t.text)")
            #expect(try await api.admin(.post, "/api/v1/templates", json: #"{"name": "python-ds"}"#).status == 409)
            let id = try await api.sandbox(#"{"template": "python-ds"}"#)
            let policy = try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/policy")
            #expect(policy.json["mode"] as? String == "allowlist")
            #expect(policy.json["profiles"] as? [String] == ["pypi"])
            #expect((policy.json["allow_rules"] as? [[String: Any]])?.first?["host"] as? String == "pypi.org")
            _ = try await api.admin(.put, "/api/v1/templates/python-ds", json: #"{"mode": "audit"}"#)
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/policy").json["mode"] as? String == "allowlist")
            #expect(try await api.admin(.get, "/api/v1/templates").items.count == 1)
            #expect(try await api.admin(.delete, "/api/v1/templates/python-ds").status == 204)
            #expect(try await api.admin(.get, "/api/v1/templates/python-ds").status == 404)
        }
    }

    @Test("export a policy and import it into a new sandbox; clone_from copies too")
    func exportImportClone() async throws {
        try await withAPI { api in
            let id = try await api.sandbox(#"{"network": {"allow": ["api.openai.com"]}, "profiles": ["pypi"]}"#)
            _ = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "deny", "host": "ifconfig.me"}"#)
            let read = try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/policy")
            let copy = try await api.sandbox()
            // A GET answer is taken whole (PolicyRoundTripTests); the exported shape (as
            // `portcullis export` writes it) is taken too.
            #expect(try await api.admin(.put, "/api/v1/sandboxes/\(copy)/network/policy", json: read.text).status == 200)
            let kept = ["action", "host", "port", "protocol", "methods", "paths", "warn_only", "inspect", "except", "note"]
            func rules(_ key: String) -> [[String: Any]] {
                ((read.json[key] as? [[String: Any]]) ?? []).map { $0.filter { kept.contains($0.key) } }
            }
            let exported: [String: Any] = ["mode": read.json["own_mode"] ?? NSNull(), "allow_rules": rules("allow_rules"),
                                           "deny_rules": rules("deny_rules"), "profiles": read.json["profiles"] ?? []]
            let body = String(decoding: try JSONSerialization.data(withJSONObject: exported), as: UTF8.self)
            let imported = try await api.admin(.put, "/api/v1/sandboxes/\(copy)/network/policy", json: body)
            #expect(imported.status == 200, "\(imported.text)")
            #expect(imported.json["mode"] as? String == "allowlist")
            #expect((imported.json["deny_rules"] as? [[String: Any]])?.first?["host"] as? String == "ifconfig.me")
            let clone = try await api.admin(.post, "/api/v1/sandboxes", json: #"{"clone_from": "\#(id)"}"#)
            #expect(clone.json["mode"] as? String == "allowlist")
            #expect(clone.json["profiles"] as? [String] == ["pypi"])
        }
    }

    @Test("tenant-wide rules and the tenant default mode reach sandboxes that follow the tenant")
    func tenantPolicy() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let pinned = try await api.sandbox(#"{"mode": "audit"}"#)
            _ = try await api.admin(.post, "/api/v1/network/rules", json: #"{"action": "allow", "host": "registry.npmjs.org"}"#)
            let locked = try await api.admin(.post, "/api/v1/network/lockdown")
            #expect(locked.json["default_mode"] as? String == "allowlist")
            let explain = { (sandbox: String, host: String) in
                try await api.admin(.post, "/api/v1/sandboxes/\(sandbox)/network/explain", json: #"{"host": "\#(host)", "port": 443}"#).json
            }
            #expect(try await explain(id, "registry.npmjs.org")["action"] as? String == "allow")
            #expect(try await explain(id, "example.com")["action"] as? String == "reject")
            #expect(try await explain(pinned, "example.com")["action"] as? String == "allow", "its own mode overrides the tenant's")
            let view = try await api.admin(.get, "/api/v1/network/policy")
            let ruleID = try #require((view.json["allow_rules"] as? [[String: Any]])?.first?["id"] as? String)
            #expect(try await api.admin(.delete, "/api/v1/network/rules/\(ruleID)").status == 204)
            let put = try await api.admin(.put, "/api/v1/network/policy", json: #"{"default_mode": "observe", "default_profiles": ["github"]}"#)
            #expect(put.json["default_mode"] as? String == "audit")
            let fresh = try await api.admin(.post, "/api/v1/sandboxes", json: "{}")
            #expect(fresh.json["profiles"] as? [String] == ["github"])
            _ = try await api.admin(.post, "/api/v1/network/observe")
        }
    }
}
