@testable import PortcullisGateway
import PortcullisPolicy
import Testing

@Suite("What the DNS gateway handed out, per sandbox")
struct AnswerMemoryTests {
    static let a = IPAddress.v4(IPv4Address(203, 0, 113, 10))
    static let b = IPAddress.v4(IPv4Address(203, 0, 113, 20))
    static let t0 = Timestamp(seconds: 1_000)
    static func name(_ text: String) -> DomainName { DomainName(canonical: text) }

    @Test("an answer attributes its addresses to the name until its TTL runs out")
    func ttl() {
        let m = AnswerMemory()
        m.remember(sandboxID: "s1", name: Self.name("allowed.test"), addresses: [Self.a], ttlSeconds: 30, now: Self.t0)
        #expect(m.name(for: Self.a, sandboxID: "s1", now: Self.t0.adding(milliseconds: 29_999)) == Self.name("allowed.test"))
        #expect(m.name(for: Self.a, sandboxID: "s1", now: Self.t0.adding(milliseconds: 30_000)) == nil)
        #expect(m.addresses(for: Self.name("allowed.test"), sandboxID: "s1", now: Self.t0) == [Self.a])
        #expect(m.addresses(for: Self.name("allowed.test"), sandboxID: "s1", now: Self.t0.adding(milliseconds: 31_000)).isEmpty)
    }

    @Test("sandboxes never see each other's answers")
    func isolation() {
        let m = AnswerMemory()
        m.remember(sandboxID: "s1", name: Self.name("allowed.test"), addresses: [Self.a], ttlSeconds: 30, now: Self.t0)
        #expect(m.name(for: Self.a, sandboxID: "s2", now: Self.t0) == nil)
        #expect(m.addresses(for: Self.name("allowed.test"), sandboxID: "s2", now: Self.t0).isEmpty)
        m.forget(sandboxID: "s1")
        #expect(m.name(for: Self.a, sandboxID: "s1", now: Self.t0) == nil)
    }

    @Test("a shared address is attributed to the name that stays valid longest; TTL 0 still lasts a second")
    func sharedAddress() {
        let m = AnswerMemory()
        m.remember(sandboxID: "s1", name: Self.name("cdn-a.test"), addresses: [Self.a], ttlSeconds: 10, now: Self.t0)
        m.remember(sandboxID: "s1", name: Self.name("cdn-b.test"), addresses: [Self.a, Self.b], ttlSeconds: 60, now: Self.t0)
        #expect(m.name(for: Self.a, sandboxID: "s1", now: Self.t0) == Self.name("cdn-b.test"))
        m.remember(sandboxID: "s1", name: Self.name("zero.test"), addresses: [Self.b], ttlSeconds: 0, now: Self.t0.adding(milliseconds: 100_000))
        #expect(m.name(for: Self.b, sandboxID: "s1", now: Self.t0.adding(milliseconds: 100_500)) == Self.name("zero.test"))
    }

    @Test("a flood of distinct names stays bounded per sandbox and keeps the freshest answers")
    func bounded() {
        let m = AnswerMemory(maxEntriesPerSandbox: 100, maxSandboxes: 2)
        for i in 0..<1_000 {
            let address = IPAddress.v4(IPv4Address(UInt32(0x0A00_0000 + i)))
            m.remember(sandboxID: "s1", name: Self.name("n\(i).test"), addresses: [address], ttlSeconds: UInt32(60 + i), now: Self.t0)
        }
        #expect(m.entryCount(sandboxID: "s1") <= 100)
        #expect(m.entryCount(sandboxID: "s1") >= 75, "pruning keeps three quarters of the bound")
        #expect(m.name(for: .v4(IPv4Address(UInt32(0x0A00_0000 + 999))), sandboxID: "s1", now: Self.t0) == Self.name("n999.test"))
        #expect(m.name(for: .v4(IPv4Address(UInt32(0x0A00_0000))), sandboxID: "s1", now: Self.t0) == nil)
        for s in ["s2", "s3", "s4"] {
            m.remember(sandboxID: s, name: Self.name("x.test"), addresses: [Self.a], ttlSeconds: 60, now: Self.t0)
        }
        // One more pair over the bound prunes down to 75, the ones that expire first going first.
        let p = AnswerMemory(maxEntriesPerSandbox: 100)
        for i in 0...100 {
            p.remember(sandboxID: "s", name: Self.name("p\(i).test"), addresses: [.v4(IPv4Address(UInt32(0x0B00_0000 + i)))],
                       ttlSeconds: UInt32(60 + i), now: Self.t0)
        }
        #expect(p.entryCount(sandboxID: "s") == 75)
        #expect(p.name(for: .v4(IPv4Address(UInt32(0x0B00_0000 + 26))), sandboxID: "s", now: Self.t0) == Self.name("p26.test"))
        #expect(p.name(for: .v4(IPv4Address(UInt32(0x0B00_0000 + 25))), sandboxID: "s", now: Self.t0) == nil)
        let kept = ["s1", "s2", "s3", "s4"].filter { m.entryCount(sandboxID: $0) > 0 }
        #expect(kept.count <= 2)
        #expect(m.entryCount(sandboxID: "s4") == 1)
    }
}
