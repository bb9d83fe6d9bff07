import Testing
@testable import PortcullisPolicy

@Suite struct TimeWindowTests {
    @Test("a window parses days, hours, minutes, seconds and weeks", arguments: [
        ("7d", 7 * 86_400_000), ("24h", 86_400_000), ("30m", 1_800_000), ("90s", 90_000), ("2w", 14 * 86_400_000),
    ] as [(String, Int64)])
    func parses(text: String, ms: Int64) {
        #expect(TimeWindow(parsing: text)?.milliseconds == ms)
    }

    @Test("a malformed window is refused", arguments: ["", "d", "7", "7x", "07d", "-1d", "1.5d", "99999d", "7 d"])
    func refuses(text: String) {
        #expect(TimeWindow(parsing: text) == nil)
    }
}
