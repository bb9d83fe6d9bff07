import PortcullisPolicy
import Testing
@testable import PortcullisWire

@Suite struct ProxyTargetTests {
    @Test func anAbsoluteURIKeepsPathAndQueryForForwarding() throws {
        let t = try AbsoluteTarget.parse("http://Allowed.TEST/a/b?x=1#frag")
        #expect(t.host == .name(DomainName(canonical: "allowed.test")))
        #expect(t.port == 80)
        #expect(t.originForm == "/a/b?x=1")
        #expect(t.path == "/a/b")
    }

    @Test func theSchemeIsHTTPInAnyCaseAndNothingElse() {
        func starts(_ text: String) -> Bool {
            Array(text.utf8).withUnsafeBufferPointer { AbsoluteTarget.startsWithHTTPScheme($0) }
        }
        #expect(starts("http://") && starts("HTTP://a.test/") && starts("hTtP://a"))
        #expect(!starts("http:/") && !starts("https://a") && !starts("http:\\\\a") && !starts("ht\u{0}p://a"))
        #expect(!starts("http;//a") && !starts("hxtp://a") && !starts(" http://a") && !starts(""))
        // Only letters fold: ':' and '/' differ from 0x1A and 0x0F by the case bit alone.
        #expect(!starts("hTTp:/\u{0F}") && !starts("HTTP:\u{0F}/") && !starts("http\u{1A}//a"))
        #expect(throws: TargetError.self) { try AbsoluteTarget.parse("http://") }
        #expect(throws: TargetError.self) { try AbsoluteTarget.parse("https://a.test/") }
    }

    @Test func anEmptyPathBecomesSlash() throws {
        #expect(try AbsoluteTarget.parse("http://a.test").originForm == "/")
        #expect(try AbsoluteTarget.parse("http://a.test?q").originForm == "/?q")
    }

    @Test(arguments: ["http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/"])
    func everyIPv4SpellingIsTheAddressItMeans(uri: String) throws {
        let t = try AbsoluteTarget.parse(uri)
        #expect(t.host == .address(.v4(IPv4Address(127, 0, 0, 1))))
    }

    @Test func bracketedIPv6AndPorts() throws {
        let t = try AbsoluteTarget.parse("http://[::1]:8080/x")
        #expect(t.host == .address(.v6(IPv6Address(1))))
        #expect(t.port == 8080)
    }

    @Test(arguments: ["https://a.test/", "/relative", "http://user:pw@a.test/", "http://a.test:0/", "http://a.test:65536/",
                      "http://a.test:8x/", "http:///", "ftp://a.test/", "http://a b.test/"])
    func badTargetsAreRefused(uri: String) {
        #expect(throws: TargetError.self) { try AbsoluteTarget.parse(uri) }
    }

    @Test func theSchemeIsCaseInsensitiveButExact() throws {
        #expect(try AbsoluteTarget.parse("HTTP://a.test/x").originForm == "/x")
        #expect(try AbsoluteTarget.parse("hTtP://a.test").host == .name(DomainName(canonical: "a.test")))
        // Bytes one bit away from ':' and '/' (0x1A, 0x0F) are not the delimiters.
        #expect(throws: TargetError.self) { try AbsoluteTarget.parse("http\u{1A}//a.test/") }
        #expect(throws: TargetError.self) { try AbsoluteTarget.parse("http:\u{0F}/a.test/") }
        #expect(throws: TargetError.self) { try AbsoluteTarget.parse("http:/") }
    }

    @Test(arguments: ["[::1", "[::1]x", "[::1]:", "a.test:", ":443", "@a.test:443", "a.test:443\u{301}"])
    func badAuthoritiesAreRefused(text: String) {
        #expect(throws: TargetError.self) { try Authority.parse(Substring(text)) }
    }

    @Test func connectNeedsAPort() throws {
        #expect(throws: TargetError.self) { try ConnectTarget.parse("a.test") }
        let t = try ConnectTarget.parse("a.test:443")
        #expect(t.port == 443)
        let v6 = try ConnectTarget.parse("[2001:db8::1]:443")
        #expect(v6.host.description == "2001:db8::1")
    }
}

@Suite struct CredentialTests {
    @Test func basicCredentialsDecode() {
        let c = ProxyCredential.parseBasic("Basic " + Base64.encode(Array("sbx_a:to:ken".utf8)))
        #expect(c == ProxyCredential(username: "sbx_a", password: "to:ken"))
        #expect(ProxyCredential.parseBasic("basic " + Base64.encode(Array("u:p".utf8)))?.username == "u")
    }

    @Test(arguments: ["Bearer abc", "Basic !!!", "Basic " + Base64.encode(Array("nocolon".utf8)), "Basic",
                      "Basic " + Base64.encode(Array(":emptyuser".utf8))])
    func otherCredentialsAreRefused(header: String) {
        #expect(ProxyCredential.parseBasic(header) == nil)
    }

    @Test func tokensCompareByContentOnly() {
        #expect(ProxyCredential.constantTimeEquals("abc", "abc"))
        #expect(!ProxyCredential.constantTimeEquals("abc", "abd"))
        #expect(!ProxyCredential.constantTimeEquals("abc", "abcd"))
        #expect(!ProxyCredential.constantTimeEquals("", "a"))
    }

    @Test func credentialsNeverPrint() {
        #expect(!"\(ProxyCredential(username: "u", password: "secret"))".contains("secret"))
    }

    @Test func base64RoundTrips() {
        for n in 0..<20 {
            let bytes = (0..<n).map { UInt8($0 * 37 & 0xFF) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }
}
