@testable import PortcullisPolicy
import Testing

/// `CanonicalPath`: the one canonical path (INSPECTION.md) that is both decided on and
/// sent upstream; ambiguous paths are refused.
@Suite("Canonical request paths")
struct PathNormalizeTests {
    @Test("paths are canonicalised", arguments: [
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("/", "/"),
        ("/a/../b", "/b"),
        ("/admin/../public/x", "/public/x"),
        ("/a/./b/.", "/a/b/"),
        ("/a//b///c", "/a/b/c"),
        ("//a", "/a"),
        ("/a/", "/a/"),
        ("/%7Euser/%41%62c", "/~user/Abc"),
        ("/a/%2e%2e/b", "/b"),
        ("/a/.%2E/b", "/b"),
        ("/x%3ay%3Fz", "/x%3Ay%3Fz"),
        ("/p%20q", "/p%20q"),
        ("/a%25b", "/a%25b"),
        ("/a%25", "/a%25"),
        ("/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="),
    ])
    func canonical(input: String, expected: String) {
        #expect(CanonicalPath.canonicalize(input) == .success(expected))
    }

    @Test("ambiguous paths are refused with the reason named", arguments: [
        ("/public/%2e%2e/%2e%2e/admin", "climbs above the root"),
        ("/..", "climbs above the root"),
        ("/a/../../b", "climbs above the root"),
        ("/public/..;/admin", "segment parameter"),
        ("/a;b=c", "segment parameter"),
        ("/public/%252e%252e/admin", "double percent-encoding"),
        ("/a%2Fb", "encoded slash"),
        ("/a%2fb", "encoded slash"),
        ("/a%5cb", "encoded backslash"),
        ("/a\\b", "backslash"),
        ("/a%00b", "NUL"),
        ("/a%zz", "malformed percent-encoding"),
        ("/a%4", "malformed percent-encoding"),
        ("/a b", "outside RFC 3986"),
        ("/a<b", "outside RFC 3986"),
        ("/a\"b", "outside RFC 3986"),
        ("/a{b}", "outside RFC 3986"),
        ("/a|b", "outside RFC 3986"),
        ("/a^b", "outside RFC 3986"),
        ("/a`b", "outside RFC 3986"),
        ("/é", "outside RFC 3986"),
        ("/a\r\nb", "outside RFC 3986"),
        ("a/b", "not an absolute path"),
        ("*", "not an absolute path"),
    ])
    func refused(input: String, reason: String) throws {
        guard case .failure(let refusal) = CanonicalPath.canonicalize(input) else {
            Issue.record("\(input.debugDescription) was accepted")
            return
        }
        #expect(refusal.message.contains(reason), "\(input.debugDescription): \(refusal.message)")
    }

    @Test("a canonical path is a fixed point, and the fast path agrees with the full one, on 20,000 random paths")
    func fixedPoint() {
        let alphabet: [String] = ["/", "/", "/", ".", "..", "a", "b", "%", "2", "f", "F", "5", "c", "e", "?", "#", "\\", "é",
                                  "\r\n", "-", "~", "%2e", "%2F", "%41", "%7e", "%3b", ";", "%25", "%20", ":", "@"]
        var generator = CompiledVersusReferenceTests.Generator(state: 0x5EED)  // SplitMix64: a failure repeats
        var accepted = 0
        for _ in 0..<20_000 {
            let length = generator.int(12)
            var path = generator.int(8) == 0 ? "" : "/"
            for _ in 0..<length { path += generator.pick(alphabet) }
            guard case .success(let canonical) = CanonicalPath.canonicalize(path) else { continue }
            accepted += 1
            #expect(CanonicalPath.canonicalize(canonical) == .success(canonical), "\(path.debugDescription) -> \(canonical)")
            if let plain = CanonicalPath.plainCanonical(Array(canonical.utf8)) { #expect(plain == canonical) }
            #expect(!canonical.contains("//") && !canonical.contains("/./") && !canonical.contains("/../"))
        }
        #expect(accepted > 2_000, "too few random paths were accepted (\(accepted)) for the property to mean much")
    }

    @Test("rules compare request paths in the canonical form")
    func requestLines() throws {
        #expect(PathPattern.normalize(requestPath: "/a/../b?x=/../y") == "/b")
        #expect(PathPattern.normalize(requestPath: "/a%2Fb") == nil)
        #expect(RequestLine(method: "get", path: "/public/..;/admin").normalizedPath == nil)
        #expect(throws: RuleError.self) { try PathPattern.parse("/a;x/*") }
        #expect(try PathPattern.parse("/v1//chat/*") == PathPattern.parse("/v1/chat/*"))
    }
}
