import NIOCore
@testable import PortcullisDNS
import PortcullisPolicy
import Testing

@Suite struct DNSQueryPlannerTests {
    func admitted(_ message: DNSMessage, sourceLocation: SourceLocation = #_sourceLocation) -> DNSQuery? {
        guard case .query(let q) = DNSQueryPlanner.intake(message.write()) else {
            Issue.record("not admitted", sourceLocation: sourceLocation)
            return nil
        }
        return q
    }

    func reply(_ raw: [UInt8]) -> (DNSMessage, DNSIntakeProblem)? {
        guard case .reply(let m, let why) = DNSQueryPlanner.intake(buffer(raw)) else { return nil }
        return (m, why)
    }

    @Test func aPlainQueryIsAdmitted() throws {
        let q = try #require(admitted(query("api.example.test")))
        #expect(q.question.name.domainName?.text == "api.example.test")
    }

    @Test func lessThanAHeaderIsDropped() {
        for n in 0..<12 { #expect(DNSQueryPlanner.intake(buffer(Array(repeating: 0, count: n))) == .drop) }
    }

    @Test func aResponseIsDropped() {
        #expect(DNSQueryPlanner.intake(DNSMessage.response(to: query("a.test"), code: .noError).write()) == .drop)
    }

    @Test func garbageAfterAHeaderGetsFORMERRWithTheSameID() throws {
        let (m, why) = try #require(reply(rawMessage(id: 0xBEEF, body: [0xC0, 0xFF])))
        #expect(why == .malformed)
        #expect(m.header.id == 0xBEEF)
        #expect(m.header.responseCode == .formatError)
        #expect(m.header.isResponse)
    }

    @Test func twoQuestionsOrNoneGetFORMERR() throws {
        var two = query("a.test")
        two.questions.append(DNSQuestion(name: name("b.test"), type: .a))
        guard case .reply(let m, .malformed) = DNSQueryPlanner.intake(two.write()) else { Issue.record("admitted"); return }
        #expect(m.header.responseCode == .formatError)
        var none = query("a.test")
        none.questions = []
        guard case .reply(_, .malformed) = DNSQueryPlanner.intake(none.write()) else { Issue.record("admitted"); return }
    }

    @Test func otherOpcodesGetNOTIMP() throws {
        var update = query("a.test")
        update.header.opcode = .update
        guard case .reply(let m, .notImplemented) = DNSQueryPlanner.intake(update.write()) else { Issue.record("admitted"); return }
        #expect(m.header.responseCode == .notImplemented)
        #expect(m.header.opcode == .update)
    }

    @Test func zoneTransfersAndOtherClassesGetNOTIMP() {
        guard case .reply(_, .notImplemented) = DNSQueryPlanner.intake(query("a.test", type: .axfr).write()) else { Issue.record("admitted"); return }
        var chaos = query("version.bind", type: .txt)
        chaos.questions[0].recordClass = .chaos
        guard case .reply(_, .notImplemented) = DNSQueryPlanner.intake(chaos.write()) else { Issue.record("admitted"); return }
    }

    @Test func anEDNSVersionAbove0GetsBADVERS() {
        guard case .reply(let m, .notImplemented) = DNSQueryPlanner.intake(query("a.test", edns: DNSEDNS(udpPayloadSize: 1232, version: 1)).write())
        else { Issue.record("admitted"); return }
        #expect(m.edns?.extendedResponseCode == 1)
    }

    @Test func aRejectedNameIsRefused() throws {
        let q = try #require(admitted(query("denied.test")))
        guard case .reply(let m, .refused) = DNSQueryPlanner.step(q, permitted: false, hostsFile: [.v4(IPv4Address(1))], canForward: true)
        else { Issue.record("not refused"); return }
        #expect(m.header.responseCode == .refused)
        #expect(m.answers.isEmpty)
        #expect(m.questions == q.request.questions)
    }

    @Test func aHostsFileNameIsAnsweredWithTheAskedFamilyOnly() throws {
        let hosts: [IPAddress] = [.v4(IPv4Address(127, 0, 0, 1)), .v6(IPv6Address(1))]
        let a = try #require(admitted(query("allowed.test", type: .a)))
        guard case .reply(let ma, .hostsFile) = DNSQueryPlanner.step(a, permitted: true, hostsFile: hosts, canForward: true)
        else { Issue.record("not local"); return }
        #expect(ma.answers.map(\.address) == [.v4(IPv4Address(127, 0, 0, 1))])
        #expect(ma.answers.first?.ttl == DNSQueryPlanner.hostsFileTTL)
        let mx = try #require(admitted(query("allowed.test", type: .mx)))
        guard case .reply(let mm, .hostsFile) = DNSQueryPlanner.step(mx, permitted: true, hostsFile: hosts, canForward: true)
        else { Issue.record("not local"); return }
        #expect(mm.header.responseCode == .noError)
        #expect(mm.answers.isEmpty)
        let v6only = try #require(admitted(query("allowed.test", type: .a)))
        guard case .reply(let m6, .hostsFile) = DNSQueryPlanner.step(v6only, permitted: true, hostsFile: [.v6(IPv6Address(1))], canForward: true)
        else { Issue.record("not local"); return }
        #expect(m6.header.responseCode == .noError && m6.answers.isEmpty)
    }

    @Test func anUnlistedNameIsForwardedOrNXDOMAINWithoutUpstream() throws {
        let q = try #require(admitted(query("elsewhere.test")))
        #expect(DNSQueryPlanner.step(q, permitted: true, hostsFile: nil, canForward: true) == .forward)
        guard case .reply(let m, .noUpstream) = DNSQueryPlanner.step(q, permitted: true, hostsFile: nil, canForward: false)
        else { Issue.record("forwarded"); return }
        #expect(m.header.responseCode == .nameError)
    }

    @Test func anyGetsOneSynthesizedHINFO() throws {
        let q = try #require(admitted(query("allowed.test", type: .any)))
        guard case .reply(let m, .minimalAny) = DNSQueryPlanner.step(q, permitted: true, hostsFile: [.v4(IPv4Address(1))], canForward: true)
        else { Issue.record("not minimal"); return }
        #expect(m.answers.count == 1)
        #expect(m.answers[0].type == .hinfo)
    }

    @Test func theResponseEchoesEDNSWithOurSize() throws {
        let q = try #require(admitted(query("allowed.test", edns: DNSEDNS(udpPayloadSize: 4096))))
        guard case .reply(let m, _) = DNSQueryPlanner.step(q, permitted: false, hostsFile: nil, canForward: true) else { return }
        #expect(m.edns?.udpPayloadSize == DNSMessage.ourUDPPayloadSize)
    }

    @Test func addressesFollowTheCNAMEChain() {
        let answers: [DNSResourceRecord] = [
            DNSResourceRecord(name: name("www.a.test"), type: .cname, ttl: 300, data: .cname(name("edge.b.test"))),
            DNSResourceRecord(name: name("edge.b.test"), type: .cname, ttl: 300, data: .cname(name("x.c.test"))),
            .address(name("x.c.test"), .v4(IPv4Address(9)), ttl: 20),
            .address(name("unrelated.test"), .v4(IPv4Address(10)), ttl: 20),
        ]
        let found = DNSQueryPlanner.addresses(in: answers, for: name("WWW.a.test"))
        #expect(found.map(\.0) == [.v4(IPv4Address(9))])
        #expect(found.map(\.1) == [20])
        // A CNAME loop ends.
        let loop: [DNSResourceRecord] = [
            DNSResourceRecord(name: name("a.test"), type: .cname, ttl: 1, data: .cname(name("b.test"))),
            DNSResourceRecord(name: name("b.test"), type: .cname, ttl: 1, data: .cname(name("a.test"))),
        ]
        #expect(DNSQueryPlanner.addresses(in: loop, for: name("a.test")).isEmpty)
    }

    @Test func thousandsOfRandomDatagramsNeverTrap() {
        var rng = SplitMix(state: 42)
        let good = bytes(query("fuzz.example.test", edns: DNSEDNS(udpPayloadSize: 1232)))
        for round in 0..<20_000 {
            var raw: [UInt8]
            if round % 2 == 0 {
                raw = (0..<Int.random(in: 0..<80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                raw = good
                for _ in 0..<Int.random(in: 1...4, using: &rng) { raw[Int.random(in: 0..<raw.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                raw = Array(raw.prefix(Int.random(in: 0...raw.count, using: &rng)))
            }
            switch DNSQueryPlanner.intake(buffer(raw)) {
            case .drop, .query: break
            case .reply(let m, _): #expect(m.write(maxSize: 512).readableBytes <= 512)
            }
        }
    }
}
