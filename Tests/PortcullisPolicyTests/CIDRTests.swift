import Testing
@testable import PortcullisPolicy

@Suite struct CIDRTests {
    @Test("CIDR patterns parse to networks written canonically", arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"), ("0.0.0.0/0", "0.0.0.0/0"), ("192.168.0.0/16", "192.168.0.0/16"),
        ("100.64.0.0/10", "100.64.0.0/10"), ("2001:db8::/32", "2001:db8::/32"), ("[2001:db8::]/32", "2001:db8::/32"),
        ("2001:DB8::/32", "2001:db8::/32"), ("::/0", "::/0"), ("fe80::/10", "fe80::/10"), ("fc00::/7", "fc00::/7"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"), ("::ffff:0.0.0.0/96", "0.0.0.0/0"), ("::ffff:0:0/96", "0.0.0.0/0"),
        ("::ffff:192.168.1.0/120", "192.168.1.0/24"), ("64:ff9b::/96", "64:ff9b::/96"),
    ])
    func parsesNetwork(text: String, canonical: String) throws {
        let pattern = try HostParser.parsePattern(text)
        guard case .network(let network) = pattern else {
            Issue.record("\(text) gave \(pattern)")
            return
        }
        #expect(network.description == canonical)
        #expect(try HostParser.parseNetwork(text) == network)
    }

    @Test("a full-length prefix is an address pattern", arguments: [
        ("10.0.0.1/32", "10.0.0.1"), ("2001:db8::1/128", "2001:db8::1"), ("::ffff:1.2.3.4/128", "1.2.3.4"),
        ("[::1]/128", "::1"),
    ])
    func fullLengthIsAddress(text: String, canonical: String) throws {
        let pattern = try HostParser.parsePattern(text)
        guard case .address(let address) = pattern else {
            Issue.record("\(text) gave \(pattern)")
            return
        }
        #expect(address.description == canonical)
        let network = try HostParser.parseNetwork(text)
        #expect(network.prefixLength == address.bitWidth)
        #expect(network.address == address)
    }

    @Test("host bits set are refused with a message naming the right prefix", arguments: [
        ("10.0.0.1/8", "10.0.0.0/8"), ("192.168.1.1/24", "192.168.1.0/24"), ("1.2.3.4/0", "0.0.0.0/0"),
        ("172.16.5.4/12", "172.16.0.0/12"), ("2001:db8::1/32", "2001:db8::/32"), ("fe80::1/10", "fe80::/10"),
        ("::ffff:10.0.0.1/104", "10.0.0.0/8"),
    ])
    func refusesHostBits(text: String, corrected: String) throws {
        let error = try #require(hostError { () throws(HostError) in try HostParser.parsePattern(text) })
        #expect(error.code == .hostBitsSet)
        #expect(error.message == "\(Escape.quoted(text)) has host bits set; did you mean \(corrected)?")
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseNetwork(text) } == .hostBitsSet)
    }

    @Test("the host-bits message reads as one sentence")
    func hostBitsMessage() throws {
        let error = try #require(hostError { () throws(HostError) in try HostParser.parsePattern("10.0.0.1/8") })
        #expect(error.message == #""10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?"#)
    }

    @Test("a malformed prefix length is refused", arguments: [
        "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/+8", "10.0.0.0/-8", "10.0.0.0/8/8", "10.0.0.0/1000",
        "2001:db8::/129", "2001:db8::/032", "2001:db8::/", "[2001:db8::]/", "10.0.0.0/a", "10.0.0.0/ 8",
    ])
    func refusesPrefix(text: String) {
        let code = hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) }
        #expect(code == .invalidPrefix || code == .whitespace)
    }

    @Test("the IPv4 side of a CIDR must be a strict dotted quad", arguments: [
        "10.1/16", "0x0a.0.0.0/8", "010.0.0.0/8", "167772160/8", "10.0.0.0./8", "10.0.0/24", "256.0.0.0/8",
    ])
    func refusesLooseIPv4(text: String) throws {
        let error = try #require(hostError { () throws(HostError) in try HostParser.parsePattern(text) })
        #expect(error.code == .invalidIPv4)
        #expect(error.message.contains("four decimal numbers"))
    }

    @Test("a slash after a name is a path", arguments: ["x.com/a", "x.com/24", "example.com/", "*.example.com/api"])
    func slashAfterNameIsPath(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parsePattern(text) } == .path)
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .path)
    }

    @Test("a target cannot be a CIDR", arguments: ["10.0.0.0/8", "2001:db8::/32", "[::1]/128", "10.0.0.1/32"])
    func targetRefusesCIDR(text: String) {
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseTarget(text) } == .cidrNotAllowed)
        #expect(HostParser.parseAddress(text) == nil)
    }

    @Test("parseNetwork takes a bare address as a full-length network and refuses names")
    func parseNetworkBare() throws {
        #expect(try HostParser.parseNetwork("10.0.0.1").description == "10.0.0.1/32")
        #expect(try HostParser.parseNetwork("::1").description == "::1/128")
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseNetwork("example.com") } == .notAnAddress)
        #expect(hostErrorCode { () throws(HostError) in try HostParser.parseNetwork("*.example.com") } == .notAnAddress)
    }

    @Test("networks from the parser cover what they should")
    func covers() throws {
        let pattern = try HostParser.parsePattern("10.0.0.0/8")
        #expect(pattern.covers(try HostParser.parseTarget("10.1.2.3")))
        #expect(pattern.covers(try HostParser.parseTarget("012.1")))  // octal 012 = 10
        #expect(!pattern.covers(try HostParser.parseTarget("11.0.0.1")))
        #expect(try HostParser.parsePattern("::ffff:10.0.0.0/104").covers(try HostParser.parseTarget("::ffff:10.9.9.9")))
    }
}
