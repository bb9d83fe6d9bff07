import Foundation
import PortcullisPolicy
import Testing

/// The MIOSA computers API recipes of 002_4351c856c6d963fe.txt, field for field.
@Suite("API: the computers compatibility surface")
struct CompatAPITests {
    @Test("PUT replaces the policy and answers the data envelope; GET reads it back")
    func putGet() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let put = try await api.admin(.put, "/api/v1/computers/\(id)/network-policy", json: """
                {"mode": "allowlist", "rules": [{"host": "github.com", "port": 443, "protocol": "tcp"},
                 {"host": "objects.githubusercontent.com", "port": 443, "protocol": "tcp"}]}
                """)
            #expect(put.status == 200, "\(put.text)")
            let data = try #require(put.json["data"] as? [String: Any])
            #expect(data["computer_id"] as? String == id)
            #expect(data["mode"] as? String == "allowlist")
            #expect(data["updated_at"] is String)
            let rules = try #require(data["rules"] as? [[String: Any]])
            #expect(rules.count == 2)
            #expect(rules[0]["host"] as? String == "github.com")
            #expect(rules[0]["port"] as? Int == 443)
            #expect(rules[0]["protocol"] as? String == "tcp")
            let get = try await api.admin(.get, "/api/v1/computers/\(id)/network-policy")
            #expect((get.json["data"] as? [String: Any])?["mode"] as? String == "allowlist")
            let native = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain", json: #"{"host": "github.com", "port": 443}"#)
            #expect(native.json["action"] as? String == "allow")
            #expect(try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain", json: #"{"host": "github.com", "port": 22}"#).json["action"] as? String == "reject")
        }
    }

    @Test("the documented errors, with their exact texts")
    func errors() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            for mode in ["allowlist", "denylist"] {
                let r = try await api.admin(.put, "/api/v1/computers/\(id)/network-policy", json: #"{"mode": "\#(mode)", "rules": []}"#)
                #expect(r.status == 400)
                #expect(r.text == #"{"error":"rules required for allowlist/denylist mode"}"#)
                let missing = try await api.admin(.put, "/api/v1/computers/\(id)/network-policy", json: #"{"mode": "\#(mode)"}"#)
                #expect(missing.error == "rules required for allowlist/denylist mode")
            }
            let unknown = try await api.admin(.get, "/api/v1/computers/sbx_doesnotexist/network-policy")
            #expect(unknown.status == 404)
            #expect(unknown.text == #"{"error":"computer not found"}"#)
            #expect(try await api.admin(.put, "/api/v1/computers/sbx_nope/network-policy", json: #"{"mode": "isolated"}"#).error == "computer not found")
            #expect(try await api.admin(.delete, "/api/v1/computers/sbx_nope/network-policy").error == "computer not found")
        }
    }

    @Test("isolate for an untrusted task, then DELETE restores the default; a denylist blocks a malicious range")
    func recipes() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let iso = try await api.admin(.put, "/api/v1/computers/\(id)/network-policy", json: #"{"mode": "isolated"}"#)
            #expect((iso.json["data"] as? [String: Any])?["mode"] as? String == "isolated")
            #expect(try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain", json: #"{"host": "github.com"}"#).json["rejected_by"] as? String == "mode:isolated")
            let reset = try await api.admin(.delete, "/api/v1/computers/\(id)/network-policy")
            #expect(reset.status == 200)
            let data = try #require(reset.json["data"] as? [String: Any])
            #expect(data["computer_id"] as? String == id)
            #expect(data["mode"] as? String == "audit", "resets to the tenant's default mode")
            #expect(data.keys.sorted() == ["computer_id", "mode"])
            _ = try await api.admin(.put, "/api/v1/computers/\(id)/network-policy", json: #"{"mode": "denylist", "rules": [{"host": "185.220.0.0/16"}]}"#)
            let viaName = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain",
                                              json: #"{"host": "innocent.example", "port": 443, "resolved": ["185.220.101.4"]}"#)
            #expect(viaName.json["action"] as? String == "reject")
            #expect(viaName.json["stage"] as? String == "address")
            let rules = try await api.admin(.get, "/api/v1/computers/\(id)/network-policy")
            let r0 = try #require(((rules.json["data"] as? [String: Any])?["rules"] as? [[String: Any]])?.first)
            #expect(r0["host"] as? String == "185.220.0.0/16")
            #expect(r0["port"] == nil, "a rule covering every port leaves port out")
        }
    }

    @Test("enforce and observe are input aliases on the compat PUT too (API.md, Shapes); the canonical name is answered")
    func aliases() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let enforce = try await api.admin(.put, "/api/v1/computers/\(id)/network-policy", json: #"{"mode": "enforce", "rules": [{"host": "github.com"}]}"#)
            #expect(enforce.status == 200, "\(enforce.text)")
            #expect((enforce.json["data"] as? [String: Any])?["mode"] as? String == "allowlist")
            let observe = try await api.admin(.put, "/api/v1/computers/\(id)/network-policy", json: #"{"mode": "observe"}"#)
            #expect(observe.status == 200, "\(observe.text)")
            #expect((observe.json["data"] as? [String: Any])?["mode"] as? String == "audit")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/policy").json["own_mode"] as? String == "audit")
        }
    }

    static let modeWords = "unrestricted, audit (or observe), allowlist (or enforce), denylist, isolated"

    @Test("a bad mode anywhere names the accepted modes", arguments: [
        ("PUT", "/api/v1/computers/{id}/network-policy", #"{"mode": "bogus"}"#, #"mode must be one of \#(modeWords), not "bogus""#),
        ("PUT", "/api/v1/sandboxes/{id}/network/policy", #"{"mode": "bogus"}"#, #"mode must be one of \#(modeWords), not "bogus""#),
        ("PUT", "/api/v1/sandboxes/{id}/network/policy", #"{"own_mode": "Audit"}"#, #"own_mode must be one of \#(modeWords), not "Audit""#),
        ("PUT", "/api/v1/network/policy", #"{"default_mode": "lockdown!"}"#, #"default_mode must be one of \#(modeWords), not "lockdown!""#),
        ("POST", "/api/v1/sandboxes", #"{"mode": "strict"}"#, #"mode must be one of \#(modeWords), not "strict""#),
        ("POST", "/api/v1/templates", #"{"name": "t", "mode": "strict"}"#, #"mode must be one of \#(modeWords), not "strict""#),
    ])
    func badMode(method: String, path: String, json: String, message: String) async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let r = try await api.admin(method == "PUT" ? .put : .post, path.replacingOccurrences(of: "{id}", with: id), json: json)
            #expect(r.status == 400)
            #expect(r.error == message, "\(r.text)")
        }
    }
}
