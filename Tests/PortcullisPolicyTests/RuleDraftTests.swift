@testable import PortcullisPolicy
import Testing

@Suite("Rule validation")
struct RuleDraftTests {
    func error(_ draft: RuleDraft) -> String? {
        do {
            _ = try draft.validate(id: "rul_x", source: .local)
            return nil
        } catch {
            return error.message
        }
    }

    @Test("bad fields are refused with a message naming the field", arguments: [
        (RuleDraft(action: "permit", host: "a.test"), "action must be allow or deny"),
        (RuleDraft(action: "allow", host: "a.test", port: 0), "port must be between 1 and 65535"),
        (RuleDraft(action: "allow", host: "a.test", port: 65536), "port must be between 1 and 65535"),
        (RuleDraft(action: "allow", host: "a.test", transport: "icmp"), "protocol must be tcp, udp or any"),
        (RuleDraft(action: "deny", host: "a.test", methods: ["GET"]), "methods apply to allow rules only"),
        (RuleDraft(action: "deny", host: "a.test", paths: ["/"]), "paths apply to allow rules only"),
        (RuleDraft(action: "deny", host: "a.test", warnOnly: true), "warn_only applies to allow rules only"),
        (RuleDraft(action: "allow", host: "a.test", except: ["b.a.test"]), "except applies to deny rules only"),
        (RuleDraft(action: "deny", host: "*.corp.test", except: ["jira.other.test"]), "is not covered by *.corp.test"),
        (RuleDraft(action: "allow", host: "a.test", methods: ["GE T"]), "is not an HTTP method"),
        (RuleDraft(action: "allow", host: "a.test", methods: []), "methods must list at least one method"),
        (RuleDraft(action: "allow", host: "a.test", paths: ["v1"]), "must start with /"),
        (RuleDraft(action: "allow", host: "a.test", paths: ["/a%2Fb"]), "encoded slash"),
        (RuleDraft(action: "allow", host: "a.test", paths: ["/a/*/b"]), "not a trailing /*"),
        (RuleDraft(action: "allow", host: "a.test", paths: ["/a?x=1"]), "query or fragment"),
        (RuleDraft(action: "allow", host: "a.test", note: String(repeating: "n", count: 1025)), "note is limited"),
        (RuleDraft(action: "allow", host: ""), "host: "),
        (RuleDraft(action: "allow", host: "a.test", transport: "udp", methods: ["GET"]), "udp"),
        (RuleDraft(action: "deny", host: "a.test", inspect: true), "inspect applies to allow rules only"),
        (RuleDraft(action: "deny", host: "a.test", inspect: false), "inspect applies to allow rules only"),
        (RuleDraft(action: "allow", host: "a.test", transport: "udp", inspect: true), "inspect needs TLS"),
    ])
    func refused(draft: RuleDraft, message: String) {
        let got = error(draft)
        #expect(got?.contains(message) == true, "got \(got ?? "no error")")
    }

    @Test("a valid rule is normalised")
    func normalised() throws {
        let r = try RuleDraft(action: "allow", host: "API.OpenAI.com.", port: 443, transport: "tcp", methods: ["post", "POST"],
                              paths: ["/v1/./chat/*"], warnOnly: true).validate(id: "rul_1", source: .tenant)
        #expect(r.host == .exact(DomainName(canonical: "api.openai.com")))
        #expect(r.methods == ["POST"])
        #expect(r.paths?.map(\.description) == ["/v1/chat/*"])
        #expect(r.warnOnly)
        #expect(r.source == .tenant)
        let d = try RuleDraft(action: "deny", host: "*.corp.test", except: ["jira.corp.test", "*.dev.corp.test"]).validate(id: "rul_2", source: .local)
        #expect(d.except.count == 2)
    }

    @Test("inspect is kept on allow rules as given (true, false or nil) and is part of what a rule says")
    func inspect() throws {
        for value in [true, false, nil] as [Bool?] {
            let r = try RuleDraft(action: "allow", host: "api.test", inspect: value).validate(id: "rul_1", source: .local)
            #expect(r.inspect == value)
        }
        let withPaths = try RuleDraft(action: "allow", host: "api.test", paths: ["/v1/*"], inspect: true).validate(id: "rul_1", source: .local)
        #expect(withPaths.inspect == true)
        let plainOnly = try RuleDraft(action: "allow", host: "api.test", methods: ["GET"], inspect: false).validate(id: "rul_1", source: .local)
        #expect(plainOnly.inspect == false && plainOnly.methods == ["GET"], "its methods then apply to plain HTTP only")
        #expect(try RuleDraft(action: "allow", host: "a.test", transport: "udp", inspect: false).validate(id: "r", source: .local).inspect == false)
        #expect(try RuleDraft(action: "deny", host: "a.test").validate(id: "r", source: .local).inspect == nil)
        let a = try RuleDraft(action: "allow", host: "a.test", inspect: true).validate(id: "r", source: .local)
        let b = try RuleDraft(action: "allow", host: "a.test").validate(id: "r", source: .local)
        #expect(a != b)
    }

    @Test("path patterns match on segment boundaries after dot-segment removal", arguments: [
        ("/v1/chat/*", "/v1/chat/completions", true), ("/v1/chat/*", "/v1/chat", true), ("/v1/chat/*", "/v1/chatty", false),
        ("/v1/chat/*", "/v1/chat/../models", false), ("/v1/models", "/v1/models", true), ("/v1/models", "/v1/models/x", false),
        ("/*", "/anything/at/all", true), ("/v1/models", "/v1/./models", true), ("/v1/chat/*", "/v1/%63hat/x", true),
        ("/v1/chat/*", "/v1/chat\\..\\admin", false),
    ])
    func paths(pattern: String, path: String, matches: Bool) throws {
        let p = try PathPattern.parse(pattern)
        let normalized = PathPattern.normalize(requestPath: path)
        #expect((normalized.map { p.matches(normalizedPath: $0) } ?? false) == matches)
    }

    @Test("rule sources round-trip through their text")
    func sources() {
        for s in [RuleSource.local, .tenant, .profile("openai")] { #expect(RuleSource(parsing: s.description) == s) }
        #expect(RuleSource(parsing: "profile:") == nil)
        #expect(RuleSource(parsing: "global") == nil)
    }
}
