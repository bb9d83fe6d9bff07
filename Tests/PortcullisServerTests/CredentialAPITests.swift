import Foundation
import HTTPTypes
import PortcullisModel
import PortcullisPolicy
import Synchronization
import Testing

/// The newest snapshot the control plane published (what the data plane would use).
final class SnapshotBox: Sendable {
    private let latest = Mutex<GatewaySnapshot?>(nil)
    func set(_ s: GatewaySnapshot) { latest.withLock { $0 = s } }
    var snapshot: GatewaySnapshot? { latest.withLock { $0 } }
    func bindings(_ sandbox: String) -> [CredentialBinding] { snapshot?.sandboxes[sandbox]?.credentials ?? [] }
}

@Suite("API: credentials")
struct CredentialAPITests {
    static let canary = "CANARY-sk-9f3b1e7c2d4a6b8e0f1a3c5e7d9b2f4a"
    static let rotated = "ROTATED-sk-0a1b2c3d4e5f60718293a4b5c6d7e8f9"

    static func body(name: String = "openai", value: String? = canary, host: String = "api.openai.test", extra: String = "") -> String {
        let v = value.map { #""value": "\#($0)", "# } ?? ""
        return #"{"name": "\#(name)", \#(v)"binding": {"host": "\#(host)"\#(extra)}, "placement": {"kind": "header", "name": "Authorization", "format": "Bearer {secret}"}}"#
    }

    static func isPlaceholder(_ s: String) -> Bool { s.wholeMatch(of: /pcx_[a-z2-7]{32}/) != nil }

    @Test("create answers 201 without the value; list and read show binding, placement, require and times, never the value")
    func createAndRead() async throws {
        try await withAPI { api in
            let r = try await api.admin(.post, "/api/v1/credentials", json: Self.body(extra: #", "methods": ["post"], "path_prefix": "/v1""#))
            #expect(r.status == 201, "\(r.text)")
            #expect(!r.text.contains(Self.canary) && !r.text.contains("value"))
            #expect((r.json["id"] as? String)?.hasPrefix("cred_") == true)
            #expect(r.json["name"] as? String == "openai")
            let binding = r.json["binding"] as? [String: Any] ?? [:]
            #expect(binding["host"] as? String == "api.openai.test" && binding["port"] as? Int == 443)
            #expect(binding["methods"] as? [String] == ["POST"] && binding["path_prefix"] as? String == "/v1")
            let placement = r.json["placement"] as? [String: Any] ?? [:]
            #expect(placement["kind"] as? String == "header" && placement["name"] as? String == "Authorization"
                && placement["format"] as? String == "Bearer {secret}")
            #expect(r.json["require"] as? Bool == false)
            #expect(r.json["created_at"] is String && r.json["rotated_at"] is NSNull)

            let list = try await api.admin(.get, "/api/v1/credentials")
            #expect(list.status == 200 && list.items.map { $0["name"] as? String } == ["openai"])
            #expect(!list.text.contains(Self.canary))
            let one = try await api.admin(.get, "/api/v1/credentials/openai")
            #expect(one.status == 200 && one.json["id"] as? String == r.json["id"] as? String && !one.text.contains(Self.canary))
            let missing = try await api.admin(.get, "/api/v1/credentials/nope")
            #expect(missing.status == 404 && missing.error == #"credential "nope" not found"#)
        }
    }

    @Test("bad input is 400 naming the field; a duplicate name is 409; unknown fields are refused")
    func refusals() async throws {
        try await withAPI { api in
            let cases: [(String, String)] = [
                (Self.body(host: "203.0.113.9"), "binding.host"),
                (Self.body(host: "co.uk"), "binding.host: \"co.uk\" is a public suffix"),
                (Self.body(host: "*.com"), "binding.host"),
                (Self.body(extra: #", "port": 0"#), "binding.port must be between 1 and 65535, not 0"),
                (Self.body(extra: #", "port": 70000"#), "binding.port must be between 1 and 65535, not 70000"),
                (#"{"name": "x", "value": "v", "binding": {"host": "a.example.test"}, "placement": {"kind": "header", "name": "X-Key", "format": "Token"}}"#,
                 "placement.format must contain {secret}"),
                (Self.body(value: nil), "value is required"),
                (Self.body(value: "a\\r\\nInjected: 1"), "value must not contain control characters"),
                (Self.body(name: "bad name"), "name must be"),
                (#"{"name": "x", "value": "v", "binding": {"host": "a.example.test", "scheme": "https"}, "placement": {"kind": "basic"}}"#,
                 #"unknown field "scheme""#),
                (#"{"name": "x", "value": "v", "secret": "v", "binding": {"host": "a.example.test"}, "placement": {"kind": "basic"}}"#,
                 #"unknown field "secret""#),
            ]
            for (body, message) in cases {
                let r = try await api.admin(.post, "/api/v1/credentials", json: body)
                #expect(r.status == 400, "\(body) → \(r.status) \(r.text)")
                #expect(r.error?.contains(message) == true, "\(body) → \(r.text)")
            }
            #expect(try await api.admin(.post, "/api/v1/credentials", json: Self.body()).status == 201)
            let dup = try await api.admin(.post, "/api/v1/credentials", json: Self.body(value: "another"))
            #expect(dup.status == 409 && dup.error == #"a credential named "openai" already exists"#, "\(dup.text)")
            // The taken name is the answer even when the new value would be refused too.
            let dupShort = try await api.admin(.post, "/api/v1/credentials", json: Self.body(value: "x"))
            #expect(dupShort.status == 409, "\(dupShort.text)")
            #expect(try await api.admin(.get, "/api/v1/credentials").items.count == 1)
        }
    }

    @Test("attach gives a pcx_ placeholder per (sandbox, credential), the same on re-attach; the snapshot binds it to the opened value")
    func attach() async throws {
        let box = SnapshotBox()
        try await withAPI(publish: { box.set($0) }) { api in
            #expect(try await api.admin(.post, "/api/v1/credentials", json: Self.body()).status == 201)
            let a = try await api.sandbox(), b = try await api.sandbox()
            let first = try await api.admin(.post, "/api/v1/sandboxes/\(a)/network/credentials/openai")
            #expect(first.status == 200, "\(first.text)")
            let placeholder = try #require(first.json["placeholder"] as? String)
            #expect(Self.isPlaceholder(placeholder), "\(placeholder)")
            #expect(first.json["name"] as? String == "openai" && (first.json["binding"] as? [String: Any])?["host"] as? String == "api.openai.test")
            #expect(!first.text.contains(Self.canary))
            let again = try await api.admin(.post, "/api/v1/sandboxes/\(a)/network/credentials/openai")
            #expect(again.json["placeholder"] as? String == placeholder)
            let other = try await api.admin(.post, "/api/v1/sandboxes/\(b)/network/credentials/openai")
            #expect(other.json["placeholder"] as? String != placeholder, "unique to the pair")

            let listed = try await api.admin(.get, "/api/v1/sandboxes/\(a)/network/credentials")
            #expect(listed.status == 200 && listed.items.map { $0["placeholder"] as? String } == [placeholder])
            let binding = try #require(box.bindings(a).first)
            #expect(binding.placeholder == placeholder && binding.secret == Self.canary && binding.name == "openai")
            #expect(binding.host.description == "api.openai.test" && binding.port == 443)
            #expect(!"\(binding)".contains(Self.canary), "a binding's description withholds the secret")

            #expect(try await api.admin(.post, "/api/v1/sandboxes/\(a)/network/credentials/nope").status == 404)
            #expect(try await api.admin(.post, "/api/v1/sandboxes/sbx_nope/network/credentials/openai").status == 404)
        }
    }

    @Test("rotation (PUT with a value) keeps placeholders and changes the snapshot at once; PUT without one keeps the value")
    func rotation() async throws {
        let box = SnapshotBox()
        try await withAPI(publish: { box.set($0) }) { api in
            #expect(try await api.admin(.post, "/api/v1/credentials", json: Self.body()).status == 201)
            let s = try await api.sandbox()
            let placeholder = try await api.admin(.post, "/api/v1/sandboxes/\(s)/network/credentials/openai").json["placeholder"] as? String

            let kept = try await api.admin(.put, "/api/v1/credentials/openai", json: Self.body(value: nil, extra: #", "port": 8443"#))
            #expect(kept.status == 200 && kept.json["rotated_at"] is NSNull, "\(kept.text)")
            #expect(box.bindings(s).first?.secret == Self.canary && box.bindings(s).first?.port == 8443)

            let r = try await api.admin(.put, "/api/v1/credentials/openai", json: Self.body(value: Self.rotated))
            #expect(r.status == 200 && r.json["rotated_at"] is String && !r.text.contains(Self.rotated), "\(r.text)")
            #expect(box.bindings(s).first?.secret == Self.rotated)
            #expect(box.bindings(s).first?.placeholder == placeholder, "placeholders do not change")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(s)/network/credentials").items.first?["placeholder"] as? String == placeholder)

            let renamed = try await api.admin(.put, "/api/v1/credentials/openai", json: Self.body(name: "other", value: nil))
            #expect(renamed.status == 400 && renamed.error?.contains("name: a credential keeps its name") == true, "\(renamed.text)")
            #expect(try await api.admin(.put, "/api/v1/credentials/nope", json: Self.body(name: "nope", value: nil)).status == 404)
            // The path names the credential: `name` may be left out of a replacement.
            let unnamed = try await api.admin(.put, "/api/v1/credentials/openai",
                                              json: #"{"binding": {"host": "api.openai.test"}, "placement": {"kind": "basic"}}"#)
            #expect(unnamed.status == 200 && unnamed.json["name"] as? String == "openai", "\(unnamed.text)")
        }
    }

    @Test("detach revokes the placeholder at once; re-attaching gives a new one; deleting the credential detaches it everywhere")
    func detachAndDelete() async throws {
        let box = SnapshotBox()
        try await withAPI(publish: { box.set($0) }) { api in
            #expect(try await api.admin(.post, "/api/v1/credentials", json: Self.body()).status == 201)
            let a = try await api.sandbox(), b = try await api.sandbox()
            let old = try await api.admin(.post, "/api/v1/sandboxes/\(a)/network/credentials/openai").json["placeholder"] as? String
            _ = try await api.admin(.post, "/api/v1/sandboxes/\(b)/network/credentials/openai")
            #expect(try await api.admin(.delete, "/api/v1/sandboxes/\(a)/network/credentials/openai").status == 204)
            #expect(box.bindings(a).isEmpty)
            #expect(try await api.admin(.delete, "/api/v1/sandboxes/\(a)/network/credentials/openai").status == 204, "idempotent")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(a)/network/credentials").items.isEmpty)
            let new = try await api.admin(.post, "/api/v1/sandboxes/\(a)/network/credentials/openai").json["placeholder"] as? String
            #expect(new != nil && new != old, "a revoked placeholder never comes back")

            #expect(try await api.admin(.delete, "/api/v1/credentials/openai").status == 204)
            #expect(box.bindings(a).isEmpty && box.bindings(b).isEmpty)
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(b)/network/credentials").items.isEmpty)
            #expect(try await api.admin(.get, "/api/v1/credentials/openai").status == 404)
            #expect(try await api.admin(.delete, "/api/v1/credentials/openai").status == 404)
        }
    }

    @Test("another tenant sees none of it: list empty, read, attach and delete 404, and its own name is free")
    func tenantIsolation() async throws {
        try await withAPI { api in
            #expect(try await api.admin(.post, "/api/v1/credentials", json: Self.body()).status == 201)
            let mine = try await api.sandbox()
            let key = try await api.otherTenantKey()
            let theirs = try await api.sandbox(key: key)
            #expect(try await api.call(.get, "/api/v1/credentials", key: key).items.isEmpty)
            #expect(try await api.call(.get, "/api/v1/credentials/openai", key: key).status == 404)
            #expect(try await api.call(.post, "/api/v1/sandboxes/\(theirs)/network/credentials/openai", key: key).status == 404)
            #expect(try await api.call(.post, "/api/v1/sandboxes/\(mine)/network/credentials/openai", key: key).status == 404)
            #expect(try await api.call(.get, "/api/v1/sandboxes/\(mine)/network/credentials", key: key).status == 404)
            #expect(try await api.call(.delete, "/api/v1/credentials/openai", key: key).status == 404)
            #expect(try await api.call(.post, "/api/v1/credentials", key: key, json: Self.body()).status == 201, "names are per tenant")
            #expect(try await api.call(.get, "/api/v1/credentials", key: nil).status == 401)
        }
    }

    @Test("inspect: false on a credential's host is 400 both ways: such a rule on a sandbox with the credential, and attaching to a sandbox with such a rule")
    func inspectFalseConflicts() async throws {
        try await withAPI { api in
            #expect(try await api.admin(.post, "/api/v1/credentials", json: Self.body(host: "*.openai.test")).status == 201)
            let s = try await api.sandbox()
            #expect(try await api.admin(.post, "/api/v1/sandboxes/\(s)/network/credentials/openai").status == 200)
            let local = try await api.admin(.post, "/api/v1/sandboxes/\(s)/network/rules", json: #"{"action": "allow", "host": "api.openai.test", "inspect": false}"#)
            #expect(local.status == 400 && local.error?.contains("inspect: false cannot apply to api.openai.test") == true
                && local.error?.contains(#"credential "openai""#) == true, "\(local.text)")
            let tenant = try await api.admin(.post, "/api/v1/network/rules", json: #"{"action": "allow", "host": "*.openai.test", "inspect": false}"#)
            #expect(tenant.status == 400, "\(tenant.text)")
            let put = try await api.admin(.put, "/api/v1/sandboxes/\(s)/network/policy", json: #"{"allow_rules": [{"host": "x.api.openai.test", "inspect": false}]}"#)
            #expect(put.status == 400 && put.error?.contains("allow_rules[0]") == true, "\(put.text)")
            let otherPort = try await api.admin(.post, "/api/v1/sandboxes/\(s)/network/rules", json: #"{"action": "allow", "host": "api.openai.test", "port": 8443, "inspect": false}"#)
            #expect(otherPort.status == 201, "another port is not the credential's: \(otherPort.text)")

            #expect(try await api.admin(.post, "/api/v1/profiles/opaque-ai", json: #"{"rules": [{"action": "allow", "host": "api.openai.test", "inspect": false}]}"#).status == 201)
            let profile = try await api.admin(.post, "/api/v1/sandboxes/\(s)/network/profiles/opaque-ai")
            #expect(profile.status == 400 && profile.error?.contains("inspect: false") == true, "\(profile.text)")

            let t = try await api.sandbox()
            #expect(try await api.admin(.post, "/api/v1/sandboxes/\(t)/network/rules", json: #"{"action": "allow", "host": "chat.openai.test", "inspect": false}"#).status == 201)
            let attach = try await api.admin(.post, "/api/v1/sandboxes/\(t)/network/credentials/openai")
            #expect(attach.status == 400 && attach.error?.contains("inspect: false") == true
                && attach.error?.contains("chat.openai.test") == true, "\(attach.text)")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(t)/network/credentials").items.isEmpty)

            #expect(try await api.admin(.post, "/api/v1/credentials", json: Self.body(name: "other", host: "api.other.test")).status == 201)
            #expect(try await api.admin(.post, "/api/v1/sandboxes/\(t)/network/credentials/other").status == 200)
            let moved = try await api.admin(.put, "/api/v1/credentials/other", json: Self.body(name: "other", value: nil, host: "chat.openai.test"))
            #expect(moved.status == 400 && moved.error?.contains("inspect: false") == true, "rebinding onto an opaque host: \(moved.text)")
        }
    }

    @Test("the canary value appears in no answer of any route: credentials, sandbox, policy, profiles, templates, export, tenants")
    func canaryInNoAnswer() async throws {
        try await withAPI { api in
            #expect(try await api.admin(.post, "/api/v1/credentials", json: Self.body()).status == 201)
            let s = try await api.sandbox()
            _ = try await api.admin(.post, "/api/v1/sandboxes/\(s)/network/credentials/openai")
            _ = try await api.admin(.put, "/api/v1/credentials/openai", json: Self.body(value: Self.rotated))
            let paths = ["/api/v1/credentials", "/api/v1/credentials/openai", "/api/v1/sandboxes", "/api/v1/sandboxes/\(s)",
                         "/api/v1/sandboxes/\(s)/network/policy", "/api/v1/sandboxes/\(s)/network/credentials", "/api/v1/network/policy",
                         "/api/v1/profiles", "/api/v1/templates", "/api/v1/tenants", "/api/v1/audit", "/api/v1/audit/export",
                         "/api/v1/sandboxes/\(s)/network/pending", "/api/v1/sandboxes/\(s)/network/suggestions", "/api/v1/nodes", "/metrics"]
            for path in paths {
                let r = try await api.admin(.get, path)
                #expect(r.status < 500, "\(path) → \(r.status)")
                #expect(!r.text.contains(Self.canary) && !r.text.contains(Self.rotated), "\(path) holds the value")
            }
            for record in try await api.store.allCredentials() {
                #expect(!String(decoding: record.sealedValue, as: UTF8.self).contains("sk-"), "the store holds the value sealed only")
            }
        }
    }
}
