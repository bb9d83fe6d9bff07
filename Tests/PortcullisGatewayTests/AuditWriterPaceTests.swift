import Testing
@testable import PortcullisGateway

/// The audit writer gathers only while entries come fast; a quiet gateway writes each at once.
@Suite struct AuditWriterPaceTests {
    let t0 = ContinuousClock.now

    @Test func aQuietGatewayWritesAtOnce() {
        var pace = AuditWriterPace(now: t0)
        #expect(pace.gatherAfterWaking(at: t0) == nil)
        pace.wrote(1, at: t0 + .milliseconds(1))
        // A client's requests a few milliseconds apart: never gathered.
        for i in 1...40 {
            let now = t0 + .milliseconds(5 * i)
            #expect(pace.gatherAfterWaking(at: now) == nil, "wake-up \(i)")
            pace.wrote(1, at: now)
        }
    }

    @Test func aBusyWindowMakesTheNextWakeUpsGather() {
        var pace = AuditWriterPace(now: t0)
        // 80 entries within the first window, written one at a time (no gathering yet).
        for i in 0..<80 {
            let now = t0 + .milliseconds(i)
            #expect(pace.gatherAfterWaking(at: now) == nil)
            pace.wrote(1, at: now)
        }
        #expect(pace.gatherAfterWaking(at: t0 + .milliseconds(101)) == AuditWriterPace.gather)
        pace.wrote(60, at: t0 + .milliseconds(112))
        // Still busy in the next window (60 entries in it).
        #expect(pace.gatherAfterWaking(at: t0 + .milliseconds(203)) == AuditWriterPace.gather)
    }

    @Test func busyEndsWithAWindowBelowTheRateOrAQuietSpell() {
        var pace = AuditWriterPace(now: t0)
        pace.wrote(AuditWriterPace.busyEntries, at: t0 + .milliseconds(50))
        #expect(pace.gatherAfterWaking(at: t0 + .milliseconds(100)) == AuditWriterPace.gather)
        // Fewer than `busyEntries` in the next window: quiet again once it closes.
        pace.wrote(AuditWriterPace.busyEntries - 1, at: t0 + .milliseconds(150))
        #expect(pace.gatherAfterWaking(at: t0 + .milliseconds(201)) == nil)

        var other = AuditWriterPace(now: t0)
        other.wrote(500, at: t0 + .milliseconds(10))
        // The busy window closes only at the next reading, long after: it says nothing about now.
        #expect(other.gatherAfterWaking(at: t0 + .seconds(5)) == nil)
    }
}
