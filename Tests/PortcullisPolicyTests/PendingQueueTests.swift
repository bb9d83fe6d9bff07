@testable import PortcullisPolicy
import Testing

@Suite("The pending queue reducer")
struct PendingQueueTests {
    let p = policy(.allowlist, [allow("allowed.test"), deny("denied.test")])

    @Test("a default-deny rejection adds the host, a repeat bumps count and last seen")
    func addAndBump() {
        var q = PendingQueue()
        let t = target("new.test", port: 443)
        guard case .added(let entry, nil) = q.apply(p.decide(t), port: 443, at: Timestamp(seconds: 10)) else {
            Issue.record("not added")
            return
        }
        #expect(entry.host == "new.test")
        #expect(entry.port == 443)
        #expect(entry.id.hasPrefix("pnd_"))
        q.apply(p.decide(t), port: 443, at: Timestamp(seconds: 20))
        #expect(q.entries.count == 1)
        #expect(q.entries[0].count == 2)
        #expect(q.entries[0].firstSeen == Timestamp(seconds: 10))
        #expect(q.entries[0].lastSeen == Timestamp(seconds: 20))
        q.apply(p.decide(target("new.test", port: 8443)), port: 8443, at: Timestamp(seconds: 30))
        #expect(q.entries.count == 2, "(host, port) pairs are distinct entries")
    }

    @Test("allowed traffic, deny-rule rejections and guard rejections do not join")
    func ignored() {
        var q = PendingQueue()
        #expect(q.apply(p.decide(target("allowed.test")), port: 443, at: Timestamp(seconds: 1)) == .ignored)
        #expect(q.apply(p.decide(target("denied.test")), port: 443, at: Timestamp(seconds: 1)) == .ignored)
        #expect(q.apply(p.decide(target("169.254.169.254")), port: 443, at: Timestamp(seconds: 1)) == .ignored)
        let audit = policy(.audit, [])
        #expect(q.apply(audit.decide(target("x.test")), port: 443, at: Timestamp(seconds: 1)) == .ignored)
        #expect(q.entries.isEmpty)
    }

    @Test("the queue is bounded: the least recently seen entry is dropped and counted")
    func bounded() {
        var q = PendingQueue(capacity: 3)
        for i in 0..<3 { q.record(host: "h\(i).test", port: 443, at: Timestamp(seconds: Int64(i))) }
        q.record(host: "h0.test", port: 443, at: Timestamp(seconds: 10))
        guard case .added(_, let evicted?) = q.record(host: "flood.test", port: 443, at: Timestamp(seconds: 11)) else {
            Issue.record("nothing evicted")
            return
        }
        #expect(evicted.host == "h1.test")
        #expect(q.entries.count == 3)
        #expect(q.dropped == 1)
        for i in 0..<1000 { q.record(host: "f\(i).test", port: 443, at: Timestamp(seconds: Int64(100 + i))) }
        #expect(q.entries.count == 3)
        #expect(q.dropped == 1001)
    }

    @Test("resolving removes the entry and gives an exact rule for its host and port")
    func resolve() throws {
        var q = PendingQueue()
        q.record(host: "new.test", port: 443, at: Timestamp(seconds: 1))
        let id = q.entries[0].id
        let resolved = q.resolve(id: id)
        let entry = try #require(resolved)
        #expect(q.entries.isEmpty)
        #expect(q.resolve(id: id) == nil)
        let r = try PendingQueue.rule(resolving: entry, as: .allow, id: "rul_new", source: .tenant)
        #expect(r.host == .exact(DomainName(canonical: "new.test")))
        #expect(r.port == 443)
        #expect(r.action == .allow)
        #expect(r.source == .tenant)
        let after = policy(.allowlist, [r])
        #expect(after.decide(target("new.test", port: 443)).verdict == .allow)
    }

    @Test("keys are stable per (host, port); entry ids differ per sandbox and per time first seen")
    func ids() {
        #expect(PendingQueue.key(host: "a.test", port: 443) == PendingQueue.key(host: "a.test", port: 443))
        #expect(PendingQueue.key(host: "a.test", port: 443) != PendingQueue.key(host: "a.test", port: 80))
        #expect(PendingQueue.key(host: "a.test", port: nil) != PendingQueue.key(host: "b.test", port: nil))
        let key = PendingQueue.key(host: "a.test", port: 443)
        let t = Timestamp(milliseconds: 1_000)
        let id = PendingQueue.entryID(sandboxID: "sbx_a", key: key, firstSeen: t)
        #expect(id.count == 20 && id.hasPrefix("pnd_"))
        #expect(id == PendingQueue.entryID(sandboxID: "sbx_a", key: key, firstSeen: t))
        #expect(id != PendingQueue.entryID(sandboxID: "sbx_b", key: key, firstSeen: t))
        #expect(id != PendingQueue.entryID(sandboxID: "sbx_a", key: key, firstSeen: Timestamp(milliseconds: 1_001)))
        #expect(id != key)
        var a = PendingQueue(sandboxID: "sbx_a"), b = PendingQueue(sandboxID: "sbx_b")
        a.record(host: "a.test", port: 443, at: t)
        b.record(host: "a.test", port: 443, at: t)
        a.record(host: "a.test", port: 443, at: Timestamp(milliseconds: 2_000))
        #expect(a.entries.count == 1 && a.entries[0].count == 2)
        #expect(a.entries[0].id != b.entries[0].id)
    }
}
