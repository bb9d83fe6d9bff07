import Testing
@testable import PortcullisPolicy

/// Input an attacker (or a careless paste) might send; none of it may crash, hang, or come
/// out as a name that means something else.
@Suite struct HostileHostInputTests {
    @Test("the empty string is refused")
    func empty() {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern("") } == .empty)
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget("") } == .empty)
        #expect(HostParser.parseAddress("") == nil)
    }

    @Test("huge input is refused before any parsing", arguments: [
        String(repeating: "a", count: 10_000), String(repeating: "a.", count: 5_000), String(repeating: "ü", count: 10_000),
        String(repeating: "1", count: 10_000), String(repeating: ":", count: 10_000), String(repeating: "*.", count: 5_000) + "com",
        String(repeating: "a", count: 1025),
    ])
    func huge(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) } == .tooLong)
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .tooLong)
        #expect(HostParser.parseAddress(text) == nil)
    }

    @Test("long input under the byte limit is judged by the name limits")
    func longButUnderLimit() {
        let text = String(repeating: "a", count: 1024)
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .labelTooLong)
    }

    @Test("every control character is refused, wherever it stands", arguments: Array(0x00...0x1F) + [0x7F, 0x85, 0x9F])
    func controlCharacters(value: Int) throws {
        let scalar = try #require(Unicode.Scalar(UInt32(value)))
        let expected: HostError.Code = value == 0x09 ? .whitespace : .controlCharacter
        for text in ["a\(scalar)b.com", "example.com\(scalar)", "\(scalar)example.com", "10.0.0.1\(scalar)", "::1\(scalar)"] {
            #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) } == expected)
            #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == expected)
            #expect(HostParser.parseAddress(text) == nil)
        }
    }

    @Test("a NUL in the middle does not cut the name short")
    func nulInMiddle() throws {
        let error = try #require(hostError { () throws(HostError) in try HostParser.parseTarget("api.openai.com\u{0}.evil.com") })
        #expect(error.code == .controlCharacter)
        #expect(error.message.contains("\\u{0}"))
    }

    @Test("format characters are refused", arguments: [
        "\u{202E}moc.elgoog", "app\u{200D}le.com", "app\u{200C}le.com", "apple\u{200B}.com", "\u{FEFF}apple.com",
        "apple.com\u{2060}", "\u{061C}example.com",
    ])
    func formatCharacters(text: String) throws {
        let error = try #require(hostError { () throws(HostError) in try HostParser.parseTarget(text) })
        #expect(error.code == .invalidCharacter)
        #expect(error.message.contains("\\u{"))
    }

    @Test("Unicode spaces are white space", arguments: ["a\u{00A0}b.com", "a\u{3000}b.com", "a\u{2003}b.com", "a\u{2028}b.com"])
    func unicodeSpaces(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .whitespace)
    }

    @Test("emoji and symbols are not label characters", arguments: ["💩.la", "i❤.ws", "a☃b.com", "€.com", "a\u{2044}b.com"])
    func emoji(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .invalidCharacter)
    }

    @Test("confusables become xn-- names distinct from the names they imitate", arguments: [
        ("\u{0430}pple.com", "apple.com"), ("g\u{043E}\u{043E}gle.com", "google.com"), ("\u{0440}aypal.com", "paypal.com"),
        ("micro\u{0455}oft.com", "microsoft.com"),
    ])
    func confusables(fake: String, real: String) throws {
        let parsedFake = try HostParser.parseTarget(fake)
        #expect(parsedFake != (try HostParser.parseTarget(real)))
        #expect(parsedFake.description.hasPrefix("xn--"))
        #expect(!(try HostParser.parsePattern(real)).covers(parsedFake))
    }

    @Test("percent-encoding is refused, never decoded", arguments: ["%41pple.com", "apple%2ecom", "127.0.0.1%00", "%31%32%37.0.0.1", "a.com%"])
    func percentEncoding(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .percentEncoding)
        #expect(HostParser.parseAddress(text) == nil)
    }

    @Test("every resolver spelling of an address comes out as that address, never as a name", arguments: [
        ("127.1", v4(127, 0, 0, 1)), ("2130706433", v4(127, 0, 0, 1)), ("0x7f.1", v4(127, 0, 0, 1)),
        ("0177.0.0.1", v4(127, 0, 0, 1)), ("0x7F000001", v4(127, 0, 0, 1)), ("127.0.1", v4(127, 0, 0, 1)),
        ("0x7f.1.", v4(127, 0, 0, 1)), ("127.0.0.1.", v4(127, 0, 0, 1)), ("0xA9FEA9FE", v4(169, 254, 169, 254)),
        ("0251.0376.0251.0376", v4(169, 254, 169, 254)), ("169.254.43518", v4(169, 254, 169, 254)),
        ("0", v4(0, 0, 0, 0)), ("[::ffff:169.254.169.254]", v4(169, 254, 169, 254)),
    ])
    func spellings(text: String, address: IPAddress) throws {
        #expect(try HostParser.parseTarget(text) == .address(address))
        #expect(try HostParser.parsePattern(text) == .address(address))
    }

    @Test("dotted input is judged by its last label", arguments: [
        ("1.2.3.4.5", HostError.Code?.some(.invalidIPv4)), ("999.1.1.1", .invalidIPv4), ("1.2.3.com", nil),
        ("0x7f.1.evil.com", nil), ("1.2.3.4.", nil), ("1.2.3.4..", .emptyLabel), ("08.0.0.1", .invalidIPv4),
    ])
    func lastLabel(text: String, code: HostError.Code?) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == code)
    }

    @Test("a name that looks like a URL is refused, not trimmed", arguments: [
        ("http://evil.com", HostError.Code.scheme), ("evil.com/@good.com", .path), ("good.com@evil.com", .userinfo),
        ("evil.com#good.com", .invalidCharacter), ("evil.com?good.com", .invalidCharacter), ("evil.com\\good.com", .invalidCharacter),
        ("[::1]@evil.com", .invalidIPv6), ("javascript:alert(1)", .invalidCharacter), ("//evil.com", .path),
    ])
    func urlShapes(text: String, code: HostError.Code) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == code)
    }

    @Test("messages echo hostile input escaped")
    func messagesEscape() throws {
        let error = try #require(hostError { () throws(HostError) in try HostParser.parseTarget("a\u{1B}[31mred") })
        #expect(!error.message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        let rtl = try #require(hostError { () throws(HostError) in try HostParser.parseTarget("\u{202E}moc.elgoog") })
        #expect(!rtl.message.unicodeScalars.contains { $0.value == 0x202E })
    }

    @Test("xn-- labels that hide forbidden characters are refused", arguments: [
        "xn--ls8h.la",  // 💩
        "xn--pple-43d\u{200D}.com",
        "xn--1ug.com",  // U+200D alone
        "xn--zz-e1s.com", "xn--A.com",
    ])
    func hiddenInALabels(text: String) {
        let code = hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) }
        #expect(code == .invalidIDN || code == .invalidCharacter)
    }
}
