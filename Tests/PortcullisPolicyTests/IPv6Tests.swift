import Testing
@testable import PortcullisPolicy

@Suite struct IPv6Tests {
    @Test("IPv6 text parses and is written back in RFC 5952 form", arguments: [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("2001:db8::0:1", "2001:db8::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("fe80::1", "fe80::1"),
        ("FE80::ABCD:EF01", "fe80::abcd:ef01"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("64:ff9b::1.2.3.4", "64:ff9b::102:304"),
        ("::1.2.3.4", "::102:304"),
        ("2002:c000:0204::", "2002:c000:204::"),
        ("fd00:ec2::254", "fd00:ec2::254"),
        ("ff02::1", "ff02::1"),
        ("[::]", "::"),
    ])
    func formats(text: String, canonical: String) throws {
        let address = try #require(HostParser.parseAddress(text))
        #expect(address.description == canonical)
        #expect(try HostParser.parseTarget(text) == .address(address))
        #expect(try HostParser.parsePattern(text) == .address(address))
        // The canonical form parses back to the same address.
        #expect(HostParser.parseAddress(canonical) == address)
    }

    @Test("IPv4-mapped IPv6 is folded to IPv4", arguments: [
        ("::ffff:1.2.3.4", v4(1, 2, 3, 4)), ("::FFFF:1.2.3.4", v4(1, 2, 3, 4)), ("[::ffff:127.0.0.1]", v4(127, 0, 0, 1)),
        ("::ffff:7f00:1", v4(127, 0, 0, 1)), ("0:0:0:0:0:ffff:a9fe:a9fe", v4(169, 254, 169, 254)),
    ])
    func foldsMapped(text: String, address: IPAddress) throws {
        #expect(HostParser.parseAddress(text) == address)
        #expect(try HostParser.parseTarget(text) == .address(address))
        #expect(try HostParser.parsePattern(text) == .address(address))
    }

    @Test("malformed IPv6 is refused", arguments: [
        "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "1::2:", ":1::", "1:2:3:4:5:6:7", "12345::", "g::1", "::1.2.3",
        "::1.2.3.4.5", "::256.1.1.1", "::01.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "[::1", "[]", "[::1]x", "[1.2.3.4]",
        "1::2:3:4:5:6:7:8", "::ffff:1.2.3.4:5", "[::1]]", "::1.2.3.4::", "1:2:3:4:5:6:1.2.3.4:1", "ü::1",
    ])
    func refusesMalformed(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) } == .invalidIPv6)
        #expect(HostParser.parseAddress(text) == nil)
    }

    @Test("zone ids are refused", arguments: ["fe80::1%eth0", "fe80::1%25eth0", "[fe80::1%eth0]", "[fe80::1%25eth0]", "fe80::1%1"])
    func refusesZone(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) } == .zoneID)
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .zoneID)
        #expect(HostParser.parseAddress(text) == nil)
    }

    @Test("a bracketed address with a port is refused with the port code", arguments: ["[::1]:443", "[2001:db8::1]:80"])
    func refusesPort(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) } == .port)
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .port)
    }

    @Test("RFC 5952 compresses the longest run of zero groups, the first on ties, never a single group", arguments: [
        (UInt128(0), "::"),
        (UInt128(1), "::1"),
        (UInt128(0x2001_0db8_0000_0000_0001_0000_0000_0001), "2001:db8::1:0:0:1"),
        (UInt128(0x2001_0db8_0000_0001_0001_0001_0001_0001), "2001:db8:0:1:1:1:1:1"),
        (UInt128(0x0001_0000_0001_0000_0001_0000_0001_0000), "1:0:1:0:1:0:1:0"),
        (UInt128(0x0000_0000_0001_0000_0000_0000_0001_0000), "0:0:1::1:0"),
        (UInt128(0xFFFF_FFFF_FFFF_FFFF_FFFF_FFFF_FFFF_FFFF), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        (UInt128(0x0abc_0000_0000_0000_0000_0000_0000_0000), "abc::"),
    ])
    func formatsValues(value: UInt128, text: String) {
        #expect(IPv6Text.format(value) == text)
    }
}
