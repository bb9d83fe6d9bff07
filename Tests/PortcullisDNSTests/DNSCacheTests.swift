@testable import PortcullisDNS
import PortcullisPolicy
import Testing

@Suite struct DNSCacheTests {
    let t0 = Timestamp(seconds: 1_000_000)

    func answer(_ text: String, ttl: UInt32, code: DNSResponseCode = .noError) -> DNSMessage {
        DNSMessage.response(to: query(text), code: code, answers: [.address(name(text), .v4(IPv4Address(7)), ttl: ttl)])
    }

    func negative(_ text: String, code: DNSResponseCode, soaTTL: UInt32, minimum: UInt32) -> DNSMessage {
        let rdata = name("ns.test").wire + name("admin.test").wire + Array(repeating: 0, count: 16)
            + [UInt8(minimum >> 24), UInt8((minimum >> 16) & 0xFF), UInt8((minimum >> 8) & 0xFF), UInt8(minimum & 0xFF)]
        return DNSMessage.response(to: query(text), code: code,
                                   authorities: [DNSResourceRecord(name: name("test"), type: .soa, ttl: soaTTL, data: .opaque(rdata))])
    }

    func question(_ text: String, _ type: DNSRecordType = .a) -> DNSQuestion { DNSQuestion(name: name(text), type: type) }

    @Test func aHitDecrementsTTLsAndExpires() throws {
        var cache = DNSCache()
        cache.store(answer("a.test", ttl: 30), for: question("a.test"), now: t0)
        let got1 = cache.lookup(question("A.TEST"), now: t0.adding(milliseconds: 10_500))
        let hit = try #require(got1)
        #expect(hit.answers.first?.ttl == 20)
        let got2 = cache.lookup(question("a.test"), now: t0.adding(milliseconds: 30_000))
        #expect(got2 == nil)
        #expect(cache.count == 0)
    }

    @Test func typeAndClassAreSeparateKeys() {
        var cache = DNSCache()
        cache.store(answer("a.test", ttl: 30), for: question("a.test"), now: t0)
        let got3 = cache.lookup(question("a.test", .aaaa), now: t0)
        #expect(got3 == nil)
    }

    @Test func ttlIsCappedAndZeroIsNotCached() throws {
        var cache = DNSCache(maxTTL: 100)
        cache.store(answer("a.test", ttl: 0), for: question("a.test"), now: t0)
        #expect(cache.count == 0)
        cache.store(answer("b.test", ttl: 1_000_000), for: question("b.test"), now: t0)
        let got4 = cache.lookup(question("b.test"), now: t0.adding(milliseconds: 101_000))
        #expect(got4 == nil)
        cache.store(answer("b.test", ttl: 1_000_000), for: question("b.test"), now: t0)
        let got5 = cache.lookup(question("b.test"), now: t0.adding(milliseconds: 50_000))
        let hit = try #require(got5)
        #expect(hit.answers[0].ttl == 50)
    }

    @Test func negativeAnswersLiveForTheSOAMinimumWithACap() throws {
        var cache = DNSCache(maxNegativeTTL: 120)
        cache.store(negative("gone.test", code: .nameError, soaTTL: 3600, minimum: 60), for: question("gone.test"), now: t0)
        let got6 = cache.lookup(question("gone.test"), now: t0.adding(milliseconds: 59_000))
        let hit = try #require(got6)
        #expect(hit.code == .nameError)
        let got7 = cache.lookup(question("gone.test"), now: t0.adding(milliseconds: 60_000))
        #expect(got7 == nil)
        cache.store(negative("nodata.test", code: .noError, soaTTL: 9999, minimum: 9999), for: question("nodata.test"), now: t0)
        let got8 = cache.lookup(question("nodata.test"), now: t0.adding(milliseconds: 119_000))
        #expect(got8 != nil)
        let got9 = cache.lookup(question("nodata.test"), now: t0.adding(milliseconds: 120_000))
        #expect(got9 == nil)
    }

    @Test func negativeWithoutSOAServfailAndTruncatedAreNotCached() {
        var cache = DNSCache()
        cache.store(DNSMessage.response(to: query("x.test"), code: .nameError), for: question("x.test"), now: t0)
        cache.store(answer("y.test", ttl: 30, code: .serverFailure), for: question("y.test"), now: t0)
        var tc = answer("z.test", ttl: 30)
        tc.header.truncated = true
        cache.store(tc, for: question("z.test"), now: t0)
        #expect(cache.count == 0)
    }

    @Test func theEntryCountIsBoundedOldestFirst() {
        var cache = DNSCache(maxEntries: 100)
        for i in 0..<1000 { cache.store(answer("n\(i).test", ttl: 300), for: question("n\(i).test"), now: t0) }
        #expect(cache.count == 100)
        let got10 = cache.lookup(question("n0.test"), now: t0)
        #expect(got10 == nil)
        let got11 = cache.lookup(question("n999.test"), now: t0)
        #expect(got11 != nil)
        // Refreshing one name many times neither grows nor loses the bound.
        for _ in 0..<10_000 { cache.store(answer("n999.test", ttl: 300), for: question("n999.test"), now: t0) }
        #expect(cache.count == 100)
    }
}
