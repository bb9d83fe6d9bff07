import NIOCore
@testable import PortcullisDNS
import PortcullisPolicy
import Testing

@Suite struct DNSCodecTests {
    @Test func aQueryRoundTrips() throws {
        let q = query("Api.Example.test", type: .aaaa, edns: DNSEDNS(udpPayloadSize: 4096, dnssecOK: true))
        let parsed = try DNSMessage(parsing: buffer(bytes(q)))
        #expect(parsed.header.id == 0x1234)
        #expect(parsed.header.recursionDesired)
        #expect(parsed.questions == q.questions)
        #expect(parsed.edns?.udpPayloadSize == 4096)
        #expect(parsed.edns?.dnssecOK == true)
        #expect(parsed.questions[0].name.description == "Api.Example.test")
    }

    @Test func aResponseWithEveryKindOfRecordRoundTrips() throws {
        var r = DNSMessage.response(to: query("www.example.test"), code: .noError, answers: [
            DNSResourceRecord(name: name("www.example.test"), type: .cname, ttl: 300, data: .cname(name("edge.example.test"))),
            .address(name("edge.example.test"), .v4(IPv4Address(192, 0, 2, 7)), ttl: 60),
            .address(name("edge.example.test"), .v6(IPv6Address(0x2001_0db8 << 96 | 1)), ttl: 60),
            DNSResourceRecord(name: name("www.example.test"), type: .txt, ttl: 5, data: .opaque([3, 0x61, 0x62, 0x63])),
        ])
        r.edns = DNSEDNS(udpPayloadSize: 1232)
        let wire = bytes(r)
        let parsed = try DNSMessage(parsing: buffer(wire))
        #expect(parsed.answers == r.answers)
        #expect(parsed.header.isResponse)
        #expect(parsed.header.responseCode == .noError)
        #expect(parsed.edns?.udpPayloadSize == 1232)
        // Compression: "example.test" is written once, later names point at it.
        let plain = r.answers.reduce(0) { $0 + $1.name.wire.count }
        #expect(wire.count < 12 + plain + 4 * 10 + 50)
    }

    @Test func namesInsideNSAndMXAreExpandedOnRead() throws {
        // Question example.test MX; answer: example.test MX 10 mail.<ptr to example.test>.
        let q: [UInt8] = [7] + Array("example".utf8) + [4] + Array("test".utf8) + [0, 0, 15, 0, 1]
        let rr: [UInt8] = [0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 9, 0, 10, 4] + Array("mail".utf8) + [0xC0, 12]
        let parsed = try DNSMessage(parsing: buffer(rawMessage(flags: 0x8180, qd: 1, an: 1, body: q + rr)))
        guard case .opaque(let data) = parsed.answers[0].data else { Issue.record("not opaque"); return }
        #expect(data == [0, 10] + name("mail.example.test").wire)
    }

    @Test func aCompressionLoopIsRejected() {
        // The question's name is a pointer to itself.
        let message = rawMessage(body: [0xC0, 12, 0, 1, 0, 1])
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(message)) }
    }

    @Test func aTwoPointerLoopIsRejected() {
        // Answer name at 18 points to 20 (forward), which points back to 18.
        let q: [UInt8] = [1, 0x61, 0, 0, 1, 0, 1]
        let rr: [UInt8] = [0xC0, 21, 0xC0, 19, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(rawMessage(flags: 0x8180, an: 1, body: q + rr))) }
    }

    @Test func aForwardPointerIsRejected() {
        let message = rawMessage(body: [0xC0, 20, 0, 1, 0, 1, 1, 0x61, 0])
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(message)) }
    }

    @Test func aPointerOutOfRangeIsRejected() {
        let message = rawMessage(body: [0xFF, 0xFF, 0, 1, 0, 1])
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(message)) }
    }

    @Test func aLongChainOfBackwardPointersIsBounded() {
        // Question "a" at 12; a TXT answer whose RDATA holds 40 pointers, each to the one before
        // (the first to the question's name); a second answer named by a pointer to the last.
        let q: [UInt8] = [1, 0x61, 0, 0, 1, 0, 1]
        var chain: [UInt8] = []
        let rdataStart = 12 + q.count + 12
        var previous = 12
        for i in 0..<40 {
            chain += [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF)]
            previous = rdataStart + 2 * i
        }
        let txt: [UInt8] = [0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 1, 0, UInt8(chain.count)] + chain
        let second: [UInt8] = [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF), 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        #expect(throws: Never.self) { try DNSMessage(parsing: buffer(rawMessage(flags: 0x8180, an: 1, body: q + txt))) }
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(rawMessage(flags: 0x8180, an: 2, body: q + txt + second))) }
    }

    @Test func aLabelOver63IsRejected() {
        let message = rawMessage(body: [64] + Array(repeating: 0x61, count: 64) + [0, 0, 1, 0, 1])
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(message)) }
        #expect(DNSName(String(repeating: "a", count: 64) + ".test") == nil)
        #expect(DNSName(String(repeating: "a", count: 63) + ".test") != nil)
    }

    @Test func aNameOver255BytesIsRejected() {
        var body: [UInt8] = []
        for _ in 0..<5 { body += [60] + Array(repeating: 0x61, count: 60) }  // 305 bytes
        let message = rawMessage(body: body + [0, 0, 1, 0, 1])
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(message)) }
        // Through pointers too: 4 × 61 + a pointer back to a 61-byte name.
        var viaPointer: [UInt8] = [60] + Array(repeating: 0x62, count: 60) + [0, 0, 1, 0, 1]
        let answer: [UInt8] = [60] + Array(repeating: 0x61, count: 60) + [60] + Array(repeating: 0x61, count: 60)
            + [60] + Array(repeating: 0x61, count: 60) + [60] + Array(repeating: 0x61, count: 60) + [0xC0, 12]
            + [0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        viaPointer += answer
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(rawMessage(flags: 0x8180, an: 1, body: viaPointer))) }
        #expect(DNSName(Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")) == nil)
    }

    @Test func countsLargerThanTheDataAreRejected() {
        let q = bytes(query("a.test"))
        var raw = q
        raw[5] = 200  // QDCOUNT 200
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(raw)) }
        raw = q
        raw[7] = 0xFF  // ANCOUNT 255
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(raw)) }
    }

    @Test func everyTruncationOfAResponseFailsCleanly() throws {
        var r = DNSMessage.response(to: query("www.example.test", edns: DNSEDNS(udpPayloadSize: 1232)), code: .noError, answers: [
            DNSResourceRecord(name: name("www.example.test"), type: .cname, ttl: 300, data: .cname(name("edge.example.test"))),
            .address(name("edge.example.test"), .v4(IPv4Address(192, 0, 2, 7)), ttl: 60),
        ])
        r.authorities = [DNSResourceRecord(name: name("example.test"), type: .soa, ttl: 60,
                                           data: .opaque(name("ns.example.test").wire + name("h.example.test").wire + Array(repeating: 1, count: 20)))]
        let wire = bytes(r)
        #expect(throws: Never.self) { try DNSMessage(parsing: buffer(wire)) }
        for cut in 0..<wire.count {
            #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(Array(wire[0..<cut]))) }
        }
    }

    @Test func aBadRDLengthIsRejected() {
        let q: [UInt8] = [1, 0x61, 0, 0, 1, 0, 1]
        let rr: [UInt8] = [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5]  // A with 5 bytes
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(rawMessage(flags: 0x8180, an: 1, body: q + rr))) }
    }

    @Test func twoOPTRecordsAreRejected() {
        let opt: [UInt8] = [0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]
        let q: [UInt8] = [1, 0x61, 0, 0, 1, 0, 1]
        #expect(throws: Never.self) { try DNSMessage(parsing: buffer(rawMessage(ar: 1, body: q + opt))) }
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(rawMessage(ar: 2, body: q + opt + opt))) }
        #expect(throws: DNSParseError.self) { try DNSMessage(parsing: buffer(rawMessage(an: 1, body: q + opt))) }
    }

    @Test func aLargeAnswerIsCutAtARecordBoundaryWithTC() throws {
        let request = query("many.example.test")
        let records = (0..<60).map { i in DNSResourceRecord.address(name("many.example.test"), .v4(IPv4Address(UInt32(0xC000_0200) + UInt32(i))), ttl: 30) }
        let full = DNSMessage.response(to: request, code: .noError, answers: records)
        let wire = bytes(full, maxSize: 512)
        #expect(wire.count <= 512)
        let parsed = try DNSMessage(parsing: buffer(wire))
        #expect(parsed.header.truncated)
        #expect(parsed.answers.count > 0 && parsed.answers.count < 60)
        #expect(parsed.answers == Array(records.prefix(parsed.answers.count)))
        // Untruncated over TCP.
        let whole = try DNSMessage(parsing: buffer(bytes(full)))
        #expect(!whole.header.truncated)
        #expect(whole.answers.count == 60)
    }

    @Test func truncationKeepsTheOPTRecordWithinTheClientsSize() throws {
        let request = query("many.example.test", edns: DNSEDNS(udpPayloadSize: 700))
        let records = (0..<80).map { i in DNSResourceRecord.address(name("many.example.test"), .v4(IPv4Address(UInt32(i))), ttl: 30) }
        let response = DNSMessage.response(to: request, code: .noError, answers: records)
        #expect(request.udpResponseLimit == 700)
        let wire = bytes(response, maxSize: request.udpResponseLimit)
        #expect(wire.count <= 700)
        let parsed = try DNSMessage(parsing: buffer(wire))
        #expect(parsed.header.truncated)
        #expect(parsed.edns?.udpPayloadSize == DNSMessage.ourUDPPayloadSize)
    }

    @Test func droppingOnlyAdditionalRecordsDoesNotSetTC() throws {
        let request = query("a.example.test")
        let extra = (0..<40).map { i in DNSResourceRecord.address(name("x\(i).example.test"), .v4(IPv4Address(UInt32(i))), ttl: 30) }
        let response = DNSMessage.response(to: request, code: .noError,
                                           answers: [.address(name("a.example.test"), .v4(IPv4Address(1)), ttl: 5)], additionals: extra)
        let parsed = try DNSMessage(parsing: buffer(bytes(response, maxSize: 512)))
        #expect(!parsed.header.truncated)
        #expect(parsed.answers.count == 1)
        #expect(parsed.additionals.count < 40)
    }

    @Test func clientSizesAreClamped() {
        #expect(query("a.test").udpResponseLimit == 512)
        #expect(query("a.test", edns: DNSEDNS(udpPayloadSize: 100)).udpResponseLimit == 512)
        #expect(query("a.test", edns: DNSEDNS(udpPayloadSize: 65000)).udpResponseLimit == 1232)
    }

    @Test func namesPrintEscapedAndConvertToPolicyNames() throws {
        let raw = rawMessage(body: [3, 0x61, 0x2E, 0x62, 4] + Array("test".utf8) + [0, 0, 1, 0, 1])
        let parsed = try DNSMessage(parsing: buffer(raw))
        #expect(parsed.questions[0].name.description == "a\\046b.test")
        #expect(parsed.questions[0].name.domainName == nil)
        #expect(name("API.Example.TEST").domainName?.text == "api.example.test")
        #expect(DNSName.root.domainName == nil)
        #expect(name("A.test").matches(name("a.TEST")))
    }
}
