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
}
