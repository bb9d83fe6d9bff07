import Foundation
@testable import PortcullisServer
import Testing

/// The generated server's date transcoder: what it writes and what it reads back.
@Suite struct RFC3339Tests {
    let transcoder = RFC3339DateTranscoder()

    @Test("dates are written as YYYY-MM-DDTHH:MM:SSZ in UTC, the fraction dropped")
    func writes() throws {
        #expect(try transcoder.encode(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(try transcoder.encode(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
        #expect(try transcoder.encode(Date(timeIntervalSince1970: 1_796_278_516.9)) == "2026-12-03T06:15:16Z")
        #expect(try transcoder.encode(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
    }

    @Test("what is written reads back as the same second, for 2,000 dates from 1970 to 2100")
    func roundTrips() throws {
        // A step of no whole minutes, hours or days, so every field varies.
        for step in stride(from: 0, to: 4_102_444_800, by: 2_051_237) {
            let seconds = Double(step)
            let text = try transcoder.encode(Date(timeIntervalSince1970: seconds + 0.25))
            #expect(try transcoder.decode(text).timeIntervalSince1970 == seconds, "\(text)")
        }
    }

    @Test("offsets, lower-case t and z, and fractions are read; impossible dates are refused")
    func reads() throws {
        #expect(try transcoder.decode("2026-12-03t07:15:16+01:00").timeIntervalSince1970 == 1_796_278_516)
        #expect(try transcoder.decode("2026-12-03T06:15:16.5z").timeIntervalSince1970 == 1_796_278_516.5)
        for bad in ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-03 06:15:16Z", "2026-12-03T06:15:16", ""] {
            #expect(throws: DecodingError.self, "\(bad)") { try transcoder.decode(bad) }
        }
    }
}
