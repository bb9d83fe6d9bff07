import Foundation
import HTTPTypes
import PortcullisPolicy
import Testing

@Suite("API: the sandbox CA (ca.pem) and rules' inspect")
struct InspectionAPITests {
    @Test("GET ca.pem answers the sandbox's CA certificate as PEM; each sandbox has its own")
    func caPEM() async throws {
        try await withAPI { api in
            let a = try await api.sandbox(), b = try await api.sandbox()
            let r = try await api.admin(.get, "/api/v1/sandboxes/\(a)/ca.pem")
            #expect(r.status == 200)
            #expect(r.headers[.contentType] == "application/x-pem-file")
            #expect(r.text.hasPrefix("-----BEGIN CERTIFICATE-----\n") && r.text.hasSuffix("-----END CERTIFICATE-----"))
            #expect(!r.text.contains("PRIVATE"))
            let again = try await api.admin(.get, "/api/v1/sandboxes/\(a)/ca.pem")
            #expect(again.text == r.text, "the same CA every time")
            let other = try await api.admin(.get, "/api/v1/sandboxes/\(b)/ca.pem")
            #expect(other.status == 200 && other.text != r.text)
        }
    }

    @Test("ca.pem: another tenant's sandbox and an unknown one are 404, no key is 401, a deleted sandbox's CA is gone")
    func caPEMRefusals() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let stranger = try await api.otherTenantKey()
            let foreign = try await api.call(.get, "/api/v1/sandboxes/\(id)/ca.pem", key: stranger)
            #expect(foreign.status == 404 && foreign.error == "sandbox not found")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/sbx_nosuch/ca.pem").status == 404)
            #expect(try await api.call(.get, "/api/v1/sandboxes/\(id)/ca.pem").status == 401)
            #expect(try await api.admin(.post, "/api/v1/sandboxes/\(id)/ca.pem").status == 405)
            #expect(try await api.admin(.delete, "/api/v1/sandboxes/\(id)").status == 204)
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)/ca.pem").status == 404)
        }
    }

    @Test("a rule's inspect is true, false or null; it is stored, shown, exported and templated")
    func inspectRoundTrip() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let on = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "api.example.test", "inspect": true}"#)
            #expect(on.status == 201 && on.json["inspect"] as? Bool == true, "\(on.text)")
            let off = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "cdn.example.test", "inspect": false}"#)
            #expect(off.status == 201 && off.json["inspect"] as? Bool == false)
            let unset = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "pypi.org"}"#)
            #expect(unset.json.keys.contains("inspect") && unset.json["inspect"] is NSNull, "always present, null when not set")
            let deny = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "deny", "host": "evil.test"}"#)
            #expect(deny.json["inspect"] is NSNull)

            let policy = try await api.admin(.get, "/api/v1/sandboxes/\(id)/network/policy")
            let byHost = Dictionary(uniqueKeysWithValues: (policy.json["allow_rules"] as? [[String: Any]] ?? []).map { ($0["host"] as? String ?? "", $0) })
            #expect(byHost["api.example.test"]?["inspect"] as? Bool == true)
            #expect(byHost["cdn.example.test"]?["inspect"] as? Bool == false)

            let put = try await api.admin(.post, "/api/v1/templates", json: #"{"name": "inspecting", "mode": "allowlist", "allow_rules": [{"host": "api.example.test", "paths": ["/v1/*"], "inspect": true}, {"host": "cdn.example.test", "inspect": false}]}"#)
            #expect(put.status == 200 || put.status == 201, "\(put.text)")
            let fromTemplate = try await api.sandbox(#"{"template": "inspecting"}"#)
            let copied = try await api.admin(.get, "/api/v1/sandboxes/\(fromTemplate)/network/policy")
            #expect((copied.json["allow_rules"] as? [[String: Any]])?.map { $0["inspect"] as? Bool } == [true, false])

            let replaced = try await api.admin(.put, "/api/v1/sandboxes/\(id)/network/policy", json: #"{"allow_rules": [{"host": "x.test", "inspect": true}, {"host": "y.test", "inspect": null}]}"#)
            #expect(replaced.status == 200, "\(replaced.text)")
            let rules = replaced.json["allow_rules"] as? [[String: Any]] ?? []
            #expect(rules.count == 2 && rules[0]["inspect"] as? Bool == true && rules[1]["inspect"] is NSNull)
        }
    }

    @Test("inspect is refused (400, naming it) on deny rules, true with udp, and non-boolean; false goes with methods and paths")
    func inspectRefusals() async throws {
        try await withAPI { api in
            let id = try await api.sandbox()
            let cases: [(String, String)] = [
                (#"{"action": "deny", "host": "evil.test", "inspect": false}"#, "inspect applies to allow rules only"),
                (#"{"action": "allow", "host": "dns.test", "protocol": "udp", "inspect": true}"#, "inspect needs TLS"),
            ]
            for (body, message) in cases {
                let r = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: body)
                #expect(r.status == 400, "\(body)")
                #expect(r.error?.contains(message) == true, "\(r.text)")
            }
            let plainOnly = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "api.test", "methods": ["GET"], "inspect": false}"#)
            #expect(plainOnly.status == 201 && plainOnly.json["inspect"] as? Bool == false, "\(plainOnly.text)")
            let typed = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "api.test", "inspect": "yes"}"#)
            #expect(typed.status == 400)
            let inList = try await api.admin(.put, "/api/v1/network/policy", json: #"{"allow_rules": [{"host": "api.test", "protocol": "udp", "inspect": true}]}"#)
            #expect(inList.status == 400 && inList.error?.contains("allow_rules[0]") == true, "\(inList.text)")
        }
    }

    @Test("explain says whether a TLS connection would be terminated and why; an endpoint rule's host is allowed on the host")
    func explainTermination() async throws {
        try await withAPI { api in
            let id = try await api.sandbox(#"{"mode": "allowlist"}"#)
            let paths = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "api.example.test", "paths": ["/v1/*"]}"#)
            let inspect = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "cdn.example.test", "inspect": true}"#)
            _ = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "plain.example.test"}"#)
            _ = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/rules", json: #"{"action": "allow", "host": "off.example.test", "paths": ["/v1/*"], "inspect": false}"#)
            func explain(_ body: String) async throws -> [String: Any] {
                let r = try await api.admin(.post, "/api/v1/sandboxes/\(id)/network/explain", json: body)
                #expect(r.status == 200, "\(r.text)")
                return r.json
            }
            let byPaths = try await explain(#"{"host": "api.example.test", "port": 443}"#)
            #expect(byPaths["terminated"] as? Bool == true)
            #expect(byPaths["termination_reason"] as? String == "rule \(paths.json["id"] as? String ?? "?") allows only some methods or paths")
            #expect(byPaths["action"] as? String == "allow", "the host is allowed; each request is decided once terminated")
            let request = try await explain(#"{"host": "api.example.test", "port": 443, "method": "GET", "path": "/admin"}"#)
            #expect(request["action"] as? String == "reject" && request["terminated"] as? Bool == true)
            let byInspect = try await explain(#"{"host": "cdn.example.test"}"#)
            #expect(byInspect["terminated"] as? Bool == true, "no port: the question is asked for 443")
            #expect(byInspect["termination_reason"] as? String == "rule \(inspect.json["id"] as? String ?? "?") says inspect: true")
            let plain = try await explain(#"{"host": "plain.example.test", "port": 443}"#)
            #expect(plain["terminated"] as? Bool == false)
            #expect((plain["termination_reason"] as? String)?.contains("opaque tunnel") == true)
            let off = try await explain(#"{"host": "off.example.test", "port": 443}"#)
            #expect(off["terminated"] as? Bool == false && off["action"] as? String == "reject", "inspect: false keeps an endpoint rule to plain HTTP")
            let refused = try await explain(#"{"host": "elsewhere.test", "port": 443}"#)
            #expect(refused["terminated"] as? Bool == false && refused["termination_reason"] as? String == "the connection is refused, so nothing is opened")
            let ip = try await explain(#"{"host": "127.0.0.1", "port": 443}"#)
            #expect(ip["terminated"] as? Bool == false)
        }
    }
}
