import Foundation
import PortcullisPolicy
import Testing

@Suite("API: tenants and isolation")
struct TenantIsolationTests {
    @Test("another tenant's key gets 404 on every route of a sandbox, never 403")
    func crossTenant() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let other = try await api.otherTenantKey()
            let routes: [(HTTPMethodName, String, String?)] = [
                (.get, "/api/v1/sandboxes/\(id)", nil), (.patch, "/api/v1/sandboxes/\(id)", #"{"name": "x"}"#),
                (.delete, "/api/v1/sandboxes/\(id)", nil), (.get, "/api/v1/sandboxes/\(id)/network/policy", nil),
                (.put, "/api/v1/sandboxes/\(id)/network/policy", #"{"mode": "audit"}"#),
                (.post, "/api/v1/sandboxes/\(id)/network/rules", #"{"action": "allow", "host": "a.test"}"#),
                (.delete, "/api/v1/sandboxes/\(id)/network/rules", nil), (.delete, "/api/v1/sandboxes/\(id)/network/rules/rul_x", nil),
                (.post, "/api/v1/sandboxes/\(id)/network/lockdown", nil), (.post, "/api/v1/sandboxes/\(id)/network/observe", nil),
                (.get, "/api/v1/sandboxes/\(id)/network/pending", nil), (.post, "/api/v1/sandboxes/\(id)/network/pending/pnd_x/allow", nil),
                (.post, "/api/v1/sandboxes/\(id)/network/pending/pnd_x/block", nil), (.get, "/api/v1/sandboxes/\(id)/network/suggestions", nil),
                (.post, "/api/v1/sandboxes/\(id)/network/profiles/openai", nil), (.delete, "/api/v1/sandboxes/\(id)/network/profiles/openai", nil),
                (.post, "/api/v1/sandboxes/\(id)/network/explain", #"{"host": "a.test"}"#),
                (.get, "/api/v1/computers/\(id)/network-policy", nil),
                (.put, "/api/v1/computers/\(id)/network-policy", #"{"mode": "isolated"}"#),
                (.delete, "/api/v1/computers/\(id)/network-policy", nil),
            ]
            for (method, path, body) in routes {
                let r = try await api.call(method.value, path, key: other, json: body)
                #expect(r.status == 404, "\(method) \(path): \(r.status) \(r.text)")
                #expect(r.error != nil)
            }
            #expect(try await api.call(.post, "/api/v1/sandboxes", key: other, json: #"{"clone_from": "\#(id)"}"#).status == 404)
            #expect(try await api.call(.get, "/api/v1/sandboxes", key: other).items.isEmpty)
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)").status == 200, "the owner still sees it")
        }
    }

    @Test("only the admin key manages tenants and keys; tenant names are unique")
    func admin() async throws {
        try await withAPI { api in
            let created = try await api.admin(.post, "/api/v1/tenants", json: #"{"name": "acme"}"#)
            #expect(created.status == 201)
            let tenantID = try #require(created.json["id"] as? String)
            #expect(tenantID.hasPrefix("tnt_"))
            let key = try #require(created.json["api_key"] as? String)
            #expect(try await api.admin(.post, "/api/v1/tenants", json: #"{"name": "acme"}"#).status == 409)
            #expect(try await api.call(.post, "/api/v1/tenants", key: key, json: #"{"name": "x"}"#).error == "admin key required")
            #expect(try await api.call(.get, "/api/v1/tenants", key: key).status == 403)
            let list = try await api.admin(.get, "/api/v1/tenants")
            #expect(Set(list.items.compactMap { $0["name"] as? String }) == ["default", "acme"])
            let newKey = try await api.admin(.post, "/api/v1/tenants/\(tenantID)/keys")
            #expect(newKey.status == 201)
            let keyID = try #require(newKey.json["id"] as? String)
            let second = try #require(newKey.json["api_key"] as? String)
            #expect(try await api.call(.get, "/api/v1/sandboxes", key: second).status == 200)
            #expect(try await api.admin(.delete, "/api/v1/tenants/\(tenantID)/keys/\(keyID)").status == 204)
            #expect(try await api.call(.get, "/api/v1/sandboxes", key: second).status == 401, "a revoked key stops working at once")
            #expect(try await api.admin(.post, "/api/v1/tenants/tnt_nope/keys").status == 404)
            #expect(try await api.admin(.post, "/api/v1/tenants", json: #"{"name": ""}"#).status == 400)
        }
    }

    @Test("keys are stored hashed, never as given")
    func hashed() async throws {
        try await withAPI { api in
            let created = try await api.admin(.post, "/api/v1/tenants", json: #"{"name": "acme"}"#)
            let key = try #require(created.json["api_key"] as? String)
            let tenantID = try #require(created.json["id"] as? String)
            let stored = try await api.store.keys(tenantID: tenantID)
            #expect(stored.count == 1)
            #expect(stored[0].hash != key)
            #expect(stored[0].hash.count == 64)
        }
    }

    @Test("operations routes answer without a key; unknown routes are a JSON 404")
    func operations() async throws {
        try await withAPI { api in
            #expect(try await api.call(.get, "/healthz").status == 200)
            #expect(try await api.call(.get, "/readyz").status == 200)
            #expect(try await api.call(.get, "/metrics").status == 200)
            let missing = try await api.admin(.get, "/api/v1/nothing-here")
            #expect(missing.status == 404)
            #expect(missing.error == "not found")
        }
    }
}
