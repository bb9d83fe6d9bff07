import Testing
@testable import PortcullisPolicy

/// Every spelling `inet_aton` accepts is the address it means, in patterns and targets,
/// never a name; malformed input that "ends in a number" is an invalid IPv4 address.
@Suite struct IPv4SpellingTests {
    static let spellings: [(String, UInt32)] = [
        ("127.0.0.1", 0x7F00_0001),
        ("127.1", 0x7F00_0001),
        ("127.0.1", 0x7F00_0001),
        ("2130706433", 0x7F00_0001),
        ("0x7f.1", 0x7F00_0001),
        ("0X7F.1", 0x7F00_0001),
        ("0177.0.0.1", 0x7F00_0001),
        ("0x7F000001", 0x7F00_0001),
        ("0x7f000001", 0x7F00_0001),
        ("017700000001", 0x7F00_0001),
        ("0x7f.0.0.1", 0x7F00_0001),
        ("0x7f.0x0.0x0.0x1", 0x7F00_0001),
        ("127.0.0.1.", 0x7F00_0001),
        ("0x7f.1.", 0x7F00_0001),
        ("2130706433.", 0x7F00_0001),
        ("0", 0),
        ("0x", 0),
        ("0.0.0.0", 0),
        ("00", 0),
        ("255.255.255.255", 0xFFFF_FFFF),
        ("4294967295", 0xFFFF_FFFF),
        ("0xffffffff", 0xFFFF_FFFF),
        ("037777777777", 0xFFFF_FFFF),
        ("1.16777215", 0x01FF_FFFF),
        ("1.2.65535", 0x0102_FFFF),
        ("10.0.0.010", 0x0A00_0008),
        ("169.254.169.254", 0xA9FE_A9FE),
        ("0251.0376.0251.0376", 0xA9FE_A9FE),
        ("0xa9fea9fe", 0xA9FE_A9FE),
        ("2852039166", 0xA9FE_A9FE),
        ("192.168.0x1.1", 0xC0A8_0101),
        ("1.2.3.4", 0x0102_0304),
        ("1.2.3.0x", 0x0102_0300),
    ]

    @Test("a pattern in any resolver spelling is the IPv4 address it means", arguments: spellings)
    func patternIsAddress(text: String, value: UInt32) throws {
        #expect(try HostParser.parsePattern(text) == .address(.v4(IPv4Address(value))))
    }

    @Test("a target in any resolver spelling is the IPv4 address it means, never a name", arguments: spellings)
    func targetIsAddress(text: String, value: UInt32) throws {
        #expect(try HostParser.parseTarget(text) == .address(.v4(IPv4Address(value))))
        #expect(HostParser.parseAddress(text) == .v4(IPv4Address(value)))
    }

    @Test("input that ends in a number but is no valid IPv4 address is refused, never a name", arguments: [
        "999.1.1.1", "256.0.0.0", "1.2.3.256", "1.2.3.4.5", "08", "09.1.1.1", "1.2.3.08", "0x100000000",
        "4294967296", "1.16777216", "1.2.65536", "1..2.3", ".1.2.3", "1.2.3.4..5", "0xg.1", "1.0xg.1",
        "99999999999999999999999", "a.1", "www.example.123", "example.0x1", "*.1.2.3",
        "1.2.3.4.5.6.7.8", "0x7f.1.2.3.4", "00000000000000000000000009",
    ])
    func refusesMalformed(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) } == .invalidIPv4)
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .invalidIPv4)
        #expect(HostParser.parseAddress(text) == nil)
    }

    @Test("a name whose last label is not a number stays a name", arguments: [
        ("1.2.3.com", "1.2.3.com"), ("0x7f.example", "0x7f.example"), ("127.0.0.1.nip.io", "127.0.0.1.nip.io"),
        ("1e100.net", "1e100.net"), ("0xg", "0xg"), ("123.example.com", "123.example.com"), ("a.0x1g", "a.0x1g"),
    ])
    func staysName(text: String, canonical: String) throws {
        #expect(try HostParser.parseTarget(text) == .name(DomainName(canonical: canonical)))
        #expect(HostParser.parseAddress(text) == nil)
    }

    @Test("the invalid-IPv4 message says why the input was read as IPv4")
    func messageExplains() throws {
        let error = try #require(hostError { () throws(HostError) in try HostParser.parsePattern("999.1.1.1") })
        #expect(error.message == #""999.1.1.1" ends in a number, so it is read as an IPv4 address, and it is not a valid one; write four numbers 0–255 (10.0.0.1)"#)
    }

    @Test("IPv4 addresses are written back as dotted quads")
    func writesDottedQuad() throws {
        #expect(try HostParser.parsePattern("0x7f.1").description == "127.0.0.1")
        #expect(try HostParser.parseTarget("2130706433").description == "127.0.0.1")
    }
}
