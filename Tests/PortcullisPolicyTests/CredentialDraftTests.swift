@testable import PortcullisPolicy
import Testing

@Suite("Credential validation")
struct CredentialDraftTests {
    static func draft(_ host: String = "api.example.com", port: Int? = nil, methods: [String]? = nil, pathPrefix: String? = nil,
                      kind: String = "header", name: String? = "Authorization", format: String? = "Bearer {secret}",
                      credential: String = "openai") -> CredentialDraft {
        CredentialDraft(name: credential, host: host, port: port, methods: methods, pathPrefix: pathPrefix, placementKind: kind,
                        placementName: name, placementFormat: format)
    }

    static func rule(_ host: String, port: Int? = nil, transport: String? = nil, inspect: Bool? = nil) -> Rule {
        (try? RuleDraft(action: "allow", host: host, port: port, transport: transport, inspect: inspect).validate(id: "rul_t", source: .local))
            ?? Rule(id: "invalid", action: .deny, host: .exact(DomainName(canonical: "invalid.test")))
    }

    func error(_ draft: CredentialDraft) -> String? {
        do {
            _ = try draft.validate()
            return nil
        } catch {
            return error.message
        }
    }

    @Test("bad fields are refused with a message naming the field", arguments: [
        (CredentialDraftTests.draft("203.0.113.7"), "binding.host: \"203.0.113.7\" is an IP address"),
        (CredentialDraftTests.draft("[2001:db8::1]"), "binding.host: "),
        (CredentialDraftTests.draft("10.0.0.0/8"), "binding.host: "),
        (CredentialDraftTests.draft("0x7f.1"), "is an IP address"),
        (CredentialDraftTests.draft("com"), "binding.host: \"com\" is a public suffix"),
        (CredentialDraftTests.draft("co.uk"), "is a public suffix"),
        (CredentialDraftTests.draft("github.io"), "is a public suffix"),
        (CredentialDraftTests.draft("*.com"), "binding.host: "),
        (CredentialDraftTests.draft("*.github.io"), "would cover every name under the public suffix \"github.io\""),
        (CredentialDraftTests.draft("*.test"), "public suffix"),
        (CredentialDraftTests.draft("localhost"), "public suffix"),
        (CredentialDraftTests.draft(""), "binding.host: "),
        (CredentialDraftTests.draft("https://api.example.com"), "binding.host: "),
        (CredentialDraftTests.draft(port: 0), "binding.port must be between 1 and 65535, not 0"),
        (CredentialDraftTests.draft(port: 65536), "binding.port must be between 1 and 65535, not 65536"),
        (CredentialDraftTests.draft(methods: []), "binding.methods must list at least one method"),
        (CredentialDraftTests.draft(methods: ["GE T"]), "binding.methods: \"GE T\" is not an HTTP method"),
        (CredentialDraftTests.draft(pathPrefix: "v1"), "binding.path_prefix must start with /"),
        (CredentialDraftTests.draft(pathPrefix: "/v1?x=1"), "binding.path_prefix is a path, without a query"),
        (CredentialDraftTests.draft(pathPrefix: "/a/../b"), "binding.path_prefix must be written in canonical form: \"/b\""),
        (CredentialDraftTests.draft(pathPrefix: "/a%2Fb"), "binding.path_prefix: an encoded slash"),
        (CredentialDraftTests.draft(format: "Bearer"), "placement.format must contain {secret} exactly once"),
        (CredentialDraftTests.draft(format: "{secret}{secret}"), "placement.format must contain {secret} exactly once"),
        (CredentialDraftTests.draft(format: "Bearer {secret}\r\nX-Evil: 1"), "placement.format must not contain control characters"),
        (CredentialDraftTests.draft(name: nil), "placement.name is required for kind header"),
        (CredentialDraftTests.draft(name: "Bad Header"), "placement.name: \"Bad Header\" is not an HTTP header name"),
        (CredentialDraftTests.draft(name: "Host"), "placement.name: the gateway owns header Host"),
        (CredentialDraftTests.draft(name: "content-length"), "the gateway owns header content-length"),
        (CredentialDraftTests.draft(name: "Proxy-Authorization"), "the gateway owns header"),
        (CredentialDraftTests.draft(kind: "basic", name: "user", format: nil), "placement.name does not apply to kind basic"),
        (CredentialDraftTests.draft(kind: "basic", name: nil, format: "x {secret}"), "placement.format applies to kind header only"),
        (CredentialDraftTests.draft(kind: "query", name: nil, format: nil), "placement.name is required for kind query"),
        (CredentialDraftTests.draft(kind: "query", name: "a&b", format: nil), "placement.name: \"a&b\" is not a query parameter name"),
        (CredentialDraftTests.draft(kind: "query", name: "key", format: "{secret}"), "placement.format applies to kind header only"),
        (CredentialDraftTests.draft(kind: "cookie"), "placement.kind must be header, basic or query, not \"cookie\""),
        (CredentialDraftTests.draft(credential: ""), "name must be 1 to 64"),
        (CredentialDraftTests.draft(credential: "has space"), "name must be 1 to 64"),
        (CredentialDraftTests.draft(credential: "-lead"), "name must be 1 to 64"),
        (CredentialDraftTests.draft(credential: String(repeating: "n", count: 65)), "name must be 1 to 64"),
    ])
    func refused(draft: CredentialDraft, message: String) {
        let got = error(draft)
        #expect(got?.contains(message) == true, "got \(got ?? "no error")")
    }

    @Test("a valid draft is normalised: host lower case, trailing dot and IDN to A-labels; methods upper case; format default {secret}")
    func normalised() throws {
        let spec = try Self.draft("API.Example.COM.", methods: ["get", "Post", "GET"], pathPrefix: "/v1/", format: nil).validate()
        #expect(spec.host.description == "api.example.com")
        #expect(spec.port == 443)
        #expect(spec.methods == ["GET", "POST"])
        #expect(spec.pathPrefix == "/v1/")
        #expect(spec.placement == .header(name: "Authorization", format: "{secret}"))
        #expect(spec.require == false)
        #expect(try Self.draft("bücher.example").validate().host.description == "xn--bcher-kva.example")
        #expect(try Self.draft("*.example.com").validate().host == .wildcard(DomainName(canonical: "example.com")))
        #expect(try Self.draft(kind: "basic", name: nil, format: nil).validate().placement == .basic)
        #expect(try Self.draft(kind: "query", name: "api_key", format: nil).validate().placement == .query(name: "api_key"))
    }

    @Test("a spec's draft validates back to the same spec (how stores keep it)")
    func draftRoundTrip() throws {
        for draft in [Self.draft("*.example.com", port: 8443, methods: ["GET"], pathPrefix: "/v1"),
                      Self.draft(kind: "basic", name: nil, format: nil), Self.draft(kind: "query", name: "key", format: nil)] {
            let spec = try draft.validate()
            #expect(try spec.draft.validate() == spec)
        }
    }

    @Test("values: 6 to 8192 bytes, no control characters (a value can end up in a header line), no placeholder", arguments: [
        ("", "value must be 6 to 8192 bytes, not 0"),
        ("12345", "value must be 6 to 8192 bytes, not 5"),
        (String(repeating: "v", count: 8193), "value must be 6 to 8192 bytes, not 8193"),
        ("sk-abc\r\nX-Injected: 1", "value must not contain control characters"),
        ("sk-abc\u{0}xyz", "value must not contain control characters"),
        ("pcx_" + String(repeating: "a", count: 32), "value must not contain a placeholder"),
    ])
    func values(value: String, message: String) {
        do {
            try CredentialDraft.validateValue(value)
            Issue.record("accepted \(value.debugDescription)")
        } catch {
            #expect(error.message.contains(message), "got \(error.message)")
        }
    }

    @Test("a value of printable text, UTF-8 included, is accepted")
    func goodValues() throws {
        try CredentialDraft.validateValue("hunter")
        try CredentialDraft.validateValue("sk-proj-AbC_123/+=")
        try CredentialDraft.validateValue("pässwörd with spaces")
        try CredentialDraft.validateValue(String(repeating: "v", count: 8192))
    }

    @Test("inspect: false keeps a credential's host opaque when the rule's pattern meets the binding's, over TCP, on its port", arguments: [
        (CredentialDraftTests.rule("api.example.com", inspect: false), "api.example.com", true),
        (CredentialDraftTests.rule("*.example.com", inspect: false), "api.example.com", true),
        (CredentialDraftTests.rule("api.example.com", inspect: false), "*.example.com", true),
        (CredentialDraftTests.rule("*.api.example.com", inspect: false), "*.example.com", true),
        (CredentialDraftTests.rule("*.example.com", inspect: false), "*.api.example.com", true),
        (CredentialDraftTests.rule("example.com", inspect: false), "*.example.com", false),
        (CredentialDraftTests.rule("other.example.com", inspect: false), "api.example.com", false),
        (CredentialDraftTests.rule("api.example.com", port: 443, inspect: false), "api.example.com", true),
        (CredentialDraftTests.rule("api.example.com", port: 8443, inspect: false), "api.example.com", false),
        (CredentialDraftTests.rule("api.example.com", transport: "udp", inspect: false), "api.example.com", false),
        (CredentialDraftTests.rule("api.example.com"), "api.example.com", false),
        (CredentialDraftTests.rule("api.example.com", inspect: true), "api.example.com", false),
        (CredentialDraftTests.rule("203.0.113.0/24", inspect: false), "api.example.com", false),
    ])
    func keptOpaque(rule: Rule, host: String, expected: Bool) throws {
        let spec = try Self.draft(host).validate()
        #expect(spec.isKeptOpaque(by: rule) == expected)
    }
}
