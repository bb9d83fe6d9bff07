import Foundation
import NIOCore
import NIOPosix
@testable import PortcullisDNS
@testable import PortcullisGateway
import PortcullisModel
import PortcullisPolicy
import Testing

/// The DNS gateway over loopback UDP and TCP, in front of a fake upstream resolver.
/// The sandbox is 127.0.0.1 (by source address); 127.0.0.2 is nobody.
@Suite(.serialized) struct DNSIntegrationTests {
    static let loopback = IPAddress.v4(IPv4Address(127, 0, 0, 1))

    /// Runs `body` with a gateway whose DNS gateway forwards to a fresh fake upstream.
    func withDNS(mode: Mode = .denylist, upstream: Bool = true, configure: @escaping (inout GatewayConfiguration) -> Void = { _ in },
                 _ body: (Harness, Int, FakeDNSUpstream) async throws -> Void) async throws {
        let fake = try await FakeDNSUpstream.start()
        let snapshot = Fixtures.snapshot(mode: mode, bySource: [Self.loopback: Fixtures.sandboxID])
        let harness = try await Harness.start(snapshot: snapshot) { config in
            config.dnsBind = try? SocketAddress(ipAddress: "127.0.0.1", port: 0)
            config.upstreamDNS = upstream ? [fake.address] : []
            config.resolveTimeout = .milliseconds(400)
            configure(&config)
        }
        let port = harness.gateway.bound?.dns?.port ?? 0
        do {
            try await body(harness, port, fake)
        } catch {
            await harness.stop()
            await fake.stop()
            throw error
        }
        await harness.stop()
        await fake.stop()
    }

    func ask(_ name: String, _ type: DNSRecordType = .a, id: UInt16 = 0x4242) -> DNSMessage {
        DNSMessage(header: DNSHeader(id: id), questions: [DNSQuestion(name: DNSName(name)!, type: type)])
    }

    var now: Timestamp { Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) }

    @Test func aHostsFileNameIsAnsweredOverUDPAndTCPAndRemembered() async throws {
        try await withDNS(mode: .allowlist) { h, port, fake in
            for answer in [try await DNSTestClient.udp(ask("allowed.test"), port: port),
                           try await DNSTestClient.tcp(ask("allowed.test"), port: port)] {
                let m = try #require(answer)
                #expect(m.header.id == 0x4242)
                #expect(m.header.responseCode == .noError)
                #expect(m.answers.compactMap(\.address) == [Self.loopback])
            }
            #expect(fake.asked.withLock { $0 }.isEmpty)
            let remembered = h.gateway.answers.addresses(for: DomainName(canonical: "allowed.test"), sandboxID: Fixtures.sandboxID, now: now)
            #expect(remembered == [Self.loopback])
            let event = try #require(await h.event { $0.via == .dns && $0.host == "allowed.test" })
            #expect(event.action == .allow)
            #expect(event.ruleID == "rul_allow")
            #expect(event.sandboxID == Fixtures.sandboxID)
            #expect(event.port == 53)
        }
    }

    @Test func aDeniedNameIsRefusedAndAuditedAsARejectViaDNS() async throws {
        try await withDNS(mode: .allowlist) { h, port, fake in
            let m = try #require(try await DNSTestClient.udp(ask("denied.test"), port: port))
            #expect(m.header.responseCode == .refused)
            #expect(m.answers.isEmpty)
            let event = try #require(await h.event { $0.via == .dns && $0.host == "denied.test" })
            #expect(event.action == .reject)
            #expect(event.rejectedBy == "rul_deny")
            #expect(event.transport == "udp")
            #expect(event.status == 5)
            #expect(!event.reason.isEmpty)
            // An unlisted name in allowlist mode: default-deny, joins the pending queue.
            let other = try #require(try await DNSTestClient.udp(ask("nowhere.test"), port: port))
            #expect(other.header.responseCode == .refused)
            let pending = try #require(await h.event { $0.via == .dns && $0.host == "nowhere.test" })
            #expect(pending.rejectedBy == AuditVocabulary.defaultDeny)
            #expect(pending.joinsPending)
            #expect(fake.asked.withLock { $0 }.isEmpty)
        }
    }

    @Test func anUnknownSourceIsRefused() async throws {
        try await withDNS { h, port, fake in
            let m = try #require(try await DNSTestClient.udp(ask("allowed.test"), port: port, source: "127.0.0.2"))
            #expect(m.header.responseCode == .refused)
            let event = try #require(await h.event { $0.via == .dns && $0.rejectedBy == "unknown-source" })
            #expect(event.sandboxID == nil)
            #expect(event.client.hasPrefix("127.0.0.2:"))
        }
    }

    @Test func aForwardedAnswerIsCachedAndRemembered() async throws {
        try await withDNS { h, port, fake in
            let first = try #require(try await DNSTestClient.udp(ask("fwd.example.test"), port: port))
            let second = try #require(try await DNSTestClient.tcp(ask("FWD.example.test", id: 7), port: port))
            #expect(first.answers.compactMap(\.address) == [.v4(IPv4Address(192, 0, 2, 1))])
            #expect(second.answers.compactMap(\.address) == [.v4(IPv4Address(192, 0, 2, 1))])
            #expect(second.header.id == 7)
            #expect(second.questions.first?.name.description == "FWD.example.test")
            #expect((second.answers.first?.ttl ?? 999) <= 300)
            #expect(fake.count("udp fwd.example.test") == 1)
            #expect(h.gateway.dnsCacheEntries == 1)
            let remembered = h.gateway.answers.addresses(for: DomainName(canonical: "fwd.example.test"), sandboxID: Fixtures.sandboxID, now: now)
            #expect(remembered == [.v4(IPv4Address(192, 0, 2, 1))])
            // Negative answers are cached too (RFC 2308).
            for _ in 0..<2 {
                let nx = try #require(try await DNSTestClient.udp(ask("nx.test"), port: port))
                #expect(nx.header.responseCode == .nameError)
            }
            #expect(fake.count("udp nx.test") == 1)
        }
    }

    @Test func theEndOfACNAMEChainIsRememberedUnderTheAskedName() async throws {
        try await withDNS { h, port, _ in
            let m = try #require(try await DNSTestClient.udp(ask("chain.test"), port: port))
            #expect(m.answers.count == 2)
            let remembered = h.gateway.answers.addresses(for: DomainName(canonical: "chain.test"), sandboxID: Fixtures.sandboxID, now: now)
            #expect(remembered == [.v4(IPv4Address(192, 0, 2, 9))])
            #expect(h.gateway.answers.name(for: .v4(IPv4Address(192, 0, 2, 9)), sandboxID: Fixtures.sandboxID, now: now)?.text == "chain.test")
        }
    }

    @Test func anUpstreamAnswerWithTheWrongIDIsIgnored() async throws {
        try await withDNS { h, port, _ in
            let m = try #require(try await DNSTestClient.udp(ask("spoof.test"), port: port))
            #expect(m.answers.compactMap(\.address) == [.v4(IPv4Address(192, 0, 2, 1))])
            let remembered = h.gateway.answers.addresses(for: DomainName(canonical: "spoof.test"), sandboxID: Fixtures.sandboxID, now: now)
            #expect(!remembered.contains(.v4(IPv4Address(203, 0, 113, 66))))
        }
    }

    @Test func aDeadUpstreamGivesSERVFAILAndAnErrorEvent() async throws {
        try await withDNS { h, port, fake in
            let started = Date()
            let m = try #require(try await DNSTestClient.udp(ask("silent.test"), port: port))
            #expect(m.header.responseCode == .serverFailure)
            #expect(Date().timeIntervalSince(started) < 2.5)
            let event = try #require(await h.event { $0.via == .dns && $0.host == "silent.test" })
            #expect(event.action == .error)
            #expect(fake.count("udp silent.test") == 1)
        }
        // An upstream port nobody listens on: the next one (the fake) answers.
        let closed = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let deadAddress = closed.localAddress!
        try await closed.close()
        try await withDNS(configure: { config in config.upstreamDNS.insert(deadAddress, at: 0) }) { _, port, fake in
            let m = try #require(try await DNSTestClient.udp(ask("second.test"), port: port))
            #expect(m.answers.compactMap(\.address) == [.v4(IPv4Address(192, 0, 2, 1))])
            #expect(fake.count("udp second.test") == 1)
        }
    }

    @Test func aTruncatedUpstreamAnswerIsAskedAgainOverTCP() async throws {
        try await withDNS { _, port, fake in
            let full = try #require(try await DNSTestClient.tcp(ask("big.test"), port: port))
            #expect(full.answers.count == 40)
            #expect(!full.header.truncated)
            #expect(fake.count("udp big.test") == 1)
            #expect(fake.count("tcp big.test") == 1)
            // The same answer over UDP (from the cache) is cut at 512 bytes with TC.
            let cut = try #require(try await DNSTestClient.udp(ask("big.test"), port: port))
            #expect(cut.header.truncated)
            #expect(cut.answers.count < 40)
            #expect(fake.count("tcp big.test") == 1)
        }
    }

    @Test func withoutAnUpstreamAnUnlistedNameDoesNotExist() async throws {
        try await withDNS(upstream: false) { h, port, _ in
            let m = try #require(try await DNSTestClient.udp(ask("elsewhere.test"), port: port))
            #expect(m.header.responseCode == .nameError)
            let listed = try #require(try await DNSTestClient.udp(ask("allowed.test"), port: port))
            #expect(listed.answers.count == 1)
        }
    }

    @Test func garbageNeverStopsTheGateway() async throws {
        try await withDNS { h, port, _ in
            var rng = SystemRandomNumberGenerator()
            let group = MultiThreadedEventLoopGroup.singleton
            let sender = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
            let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            let good = Array(ask("fuzz.test").write().readableBytesView)
            for round in 0..<3000 {
                var raw: [UInt8]
                if round % 2 == 0 {
                    raw = (0..<Int.random(in: 0..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                } else {
                    raw = good
                    raw[Int.random(in: 0..<raw.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    raw = Array(raw.prefix(Int.random(in: 0...raw.count, using: &rng)))
                    if raw.count > 2 { raw[2] &= 0x7F }  // a query, not a response
                }
                sender.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: raw)), promise: nil)
                if round % 200 == 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
            try await sender.close()
            for _ in 0..<100 {
                let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
                let junk = (0..<Int.random(in: 1..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try? await channel.writeAndFlush(ByteBuffer(bytes: junk))
                try? await channel.close()
            }
            let cached = h.gateway.dnsCacheEntries
            let m = try #require(try await DNSTestClient.udp(ask("allowed.test"), port: port))
            #expect(m.answers.count == 1)
            let t = try #require(try await DNSTestClient.tcp(ask("allowed.test"), port: port))
            #expect(t.answers.count == 1)
            // Mutated queries may have been forwarded and cached, but never beyond the cache bound.
            #expect(cached <= 10_000)
            #expect(h.gateway.answers.entryCount(sandboxID: Fixtures.sandboxID) < 3000)
        }
    }
}
