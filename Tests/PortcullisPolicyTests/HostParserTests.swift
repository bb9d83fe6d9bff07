import Testing
@testable import PortcullisPolicy

@Suite struct HostParserTests {
    @Test("names are normalised: lower case, one trailing dot removed, IDN to A-labels", arguments: [
        ("api.openai.com", "api.openai.com"),
        ("API.OpenAI.com", "api.openai.com"),
        ("api.openai.com.", "api.openai.com"),
        ("localhost", "localhost"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("my-api.example.com", "my-api.example.com"),
        ("a.b-c.d_e.f", "a.b-c.d_e.f"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("mu\u{308}nchen.de", "xn--mnchen-3ya.de"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("bücher。example", "xn--bcher-kva.example"),
        ("bücher．example", "xn--bcher-kva.example"),
        ("bücher｡example", "xn--bcher-kva.example"),
        ("1.2.3.com", "1.2.3.com"),
        ("com", "com"),
    ])
    func normalisesName(text: String, canonical: String) throws {
        #expect(try HostParser.parsePattern(text) == .exact(DomainName(canonical: canonical)))
        #expect(try HostParser.parseTarget(text) == .name(DomainName(canonical: canonical)))
    }

    @Test("a Cyrillic confusable is a different name from the Latin one")
    func confusableIsDistinct() throws {
        let fake = try HostParser.parseTarget("\u{0430}pple.com")
        #expect(fake != (try HostParser.parseTarget("apple.com")))
        #expect(fake.description.hasPrefix("xn--"))
        #expect(fake.description.hasSuffix(".com"))
        #expect(fake.description == "xn--pple-43d.com")
    }

    @Test("wildcards are stored without the *. and cover subdomains only", arguments: [
        ("*.openai.com", "openai.com"), ("*.OpenAI.com.", "openai.com"), ("*.corp.example", "corp.example"),
        ("*.googleapis.com", "googleapis.com"), ("*.github.io", "github.io"),
        ("*.githubusercontent.com", "githubusercontent.com"), ("*.bücher.example", "xn--bcher-kva.example"),
        ("*.example.co.uk", "example.co.uk"), ("*.www.ck", "www.ck"),
    ])
    func parsesWildcard(text: String, stored: String) throws {
        let pattern = try HostParser.parsePattern(text)
        #expect(pattern == .wildcard(DomainName(canonical: stored)))
        #expect(pattern.description == "*." + stored)
        #expect(pattern.covers(.name(DomainName(canonical: "a." + stored))))
        #expect(!pattern.covers(.name(DomainName(canonical: stored))))
    }

    @Test("a wildcard directly over an ICANN public suffix is refused", arguments: [
        "*.com", "*.co.uk", "*.uk", "*.org", "*.foo.ck", "*.xn--p1ai", "*.рф", "*.公司.cn",
    ])
    func refusesWildcardOverSuffix(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) } == .wildcardOverPublicSuffix)
    }

    @Test("a wildcard over a name no rule of the list makes a suffix is accepted, for private names", arguments: [
        "*.internal", "*.corp", "*.lan", "*.github.io", "*.googleapis.com",
    ])
    func acceptsWildcardOverPrivateNames(text: String) throws {
        #expect(try HostParser.parsePattern(text).description == text)
    }

    @Test("refusals carry a specific code", arguments: [
        ("", HostError.Code.empty),
        ("*", .bareWildcard),
        ("*.", .bareWildcard),
        ("a*.b.com", .misplacedWildcard),
        ("foo.*.com", .misplacedWildcard),
        ("*foo.com", .misplacedWildcard),
        ("**.com", .misplacedWildcard),
        ("*.*.example.com", .misplacedWildcard),
        ("example.*", .misplacedWildcard),
        ("a..b", .emptyLabel),
        (".example.com", .emptyLabel),
        ("example.com..", .emptyLabel),
        (".", .emptyLabel),
        ("http://x.com", .scheme),
        ("https://api.openai.com/v1", .scheme),
        ("x.com/a", .path),
        ("x.com:443", .port),
        ("1.2.3.4:80", .port),
        ("user@x.com", .userinfo),
        ("user:pass@x.com", .userinfo),
        ("%41.com", .percentEncoding),
        ("ex%2ecom", .percentEncoding),
        ("a b.com", .whitespace),
        ("a\tb.com", .whitespace),
        (" example.com", .whitespace),
        ("example.com ", .whitespace),
        ("a\u{0}b.com", .controlCharacter),
        ("a\nb.com", .controlCharacter),
        ("a!b.com", .invalidCharacter),
        ("a,b.com", .invalidCharacter),
        ("a:b", .invalidCharacter),
        ("-a.com", .hyphen),
        ("a-.com", .hyphen),
        ("xn--abc.com", .invalidIDN),
        ("xn--.com", .hyphen),
        ("xn--a.com", .invalidIDN),
        ("xn--bcher-kva1.com", .invalidIDN),
        ("xn--abc-.com", .hyphen),
        ("xn--ls8h.la", .invalidIDN),
        ("xn--BCHER-KVA.example", nil),
        (String(repeating: "a", count: 64) + ".com", .labelTooLong),
        (Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: "."), .tooLong),
    ] as [(String, HostError.Code?)])
    func refuses(text: String, code: HostError.Code?) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) } == code)
    }

    @Test("length limits: 63 per label, 253 in all", arguments: [
        (String(repeating: "a", count: 63) + ".com", true),
        (String(repeating: "a", count: 64) + ".com", false),
        (Array(repeating: String(repeating: "a", count: 62), count: 4).joined(separator: ".") + ".a", true),  // 253
        (Array(repeating: String(repeating: "a", count: 62), count: 4).joined(separator: ".") + ".ab", false),  // 254
        (Array(repeating: String(repeating: "a", count: 62), count: 4).joined(separator: ".") + ".a.", true),  // 253 + dot
    ])
    func lengthLimits(text: String, accepted: Bool) {
        #expect((hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == nil) == accepted)
    }

    @Test("a wildcard's total length, *. included, is at most 253")
    func wildcardLength() {
        let name = Array(repeating: String(repeating: "a", count: 62), count: 4).joined(separator: ".")  // 251
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern("*." + name) } == nil)
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern("*.a" + name) } == .tooLong)
    }

    @Test("targets refuse wildcards and CIDRs", arguments: [
        ("*.example.com", HostError.Code.wildcardNotAllowed), ("*", .wildcardNotAllowed), ("a*.b.com", .wildcardNotAllowed),
        ("10.0.0.0/8", .cidrNotAllowed), ("2001:db8::/32", .cidrNotAllowed), ("example.com:443", .port),
    ])
    func targetsRefuse(text: String, code: HostError.Code) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == code)
    }

    @Test("messages name the accepted form", arguments: [
        ("*", #""*" alone is not a host; write a name (api.example.com), a wildcard (*.example.com), an IP or a CIDR"#),
        ("x.com:443", #""x.com:443" has a port; write the host alone (api.example.com) and use the port field"#),
        ("http://x.com", #""http://x.com" has a scheme; write the host alone, without http:// or https:// (api.example.com)"#),
        ("a*.b.com", #""a*.b.com" has a "*" that is not the whole leading label; a wildcard is written *.example.com"#),
        ("*.com", #""*.com" would cover every name under the public suffix "com"; write a wildcard under a registrable domain (*.example.com)"#),
        ("", "the host is empty; write a name (api.example.com), a wildcard (*.example.com), an IP or a CIDR"),
        ("a!b.com", #""a!b.com" contains "!", which a host name cannot hold; names use letters, digits, hyphens and underscores (api.example.com)"#),
    ])
    func messages(text: String, message: String) throws {
        let error = try #require(hostError { () throws(HostError) in try HostParser.parsePattern(text) })
        #expect(error.message == message)
        #expect(error.input == text)
    }

    @Test("fullwidth letters are refused with a message asking for ASCII", arguments: ["ｅｘａｍｐｌｅ.com", "１２７.0.0.1", "example．ｃｏｍ"])
    func refusesFullwidth(text: String) throws {
        let error = try #require(hostError { () throws(HostError) in try HostParser.parsePattern(text) })
        #expect(error.code == .invalidCharacter)
        #expect(error.message.contains("plain ASCII"))
    }

    @Test("ideographic dots between IPv4 numbers make an IPv4 address")
    func ideographicDotsInIPv4() throws {
        #expect(try HostParser.parseTarget("127。0。0。1") == .address(v4(127, 0, 0, 1)))
    }

    @Test("the canonical text of every accepted pattern parses back to the same pattern", arguments: [
        "API.example.com.", "*.Example.COM", "bücher.example", "0x7f.1", "::ffff:1.2.3.4", "2001:DB8::/32",
        "[::1]", "10.0.0.0/8", "xn--bcher-kva.example", "*.github.io",
    ])
    func roundTrips(text: String) throws {
        let pattern = try HostParser.parsePattern(text)
        #expect(try HostParser.parsePattern(pattern.description) == pattern)
    }
}
