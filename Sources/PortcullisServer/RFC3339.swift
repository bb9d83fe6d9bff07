import Foundation
import OpenAPIRuntime

/// RFC 3339 date-times as the document's `format: date-time` and the audit `since` take
/// them: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `T` and `Z` in either case
/// (RFC 3339 §5.6 note), a fraction of any length. Calendar values are checked (no month
/// 13, no 30 February); nothing is rolled over into the next field.
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func number(_ at: Int, _ width: Int) -> Int? {
            guard at + width <= b.count else { return nil }
            var v = 0
            for c in b[at..<(at + width)] {
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            return v
        }
        guard b.count >= 20, let year = number(0, 4), b[4] == 0x2D, let month = number(5, 2), b[7] == 0x2D,
              let day = number(8, 2), b[10] | 0x20 == 0x74, let hour = number(11, 2), b[13] == 0x3A,
              let minute = number(14, 2), b[16] == 0x3A, let second = number(17, 2) else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 0x2E {
            var j = i + 1, scale = 0.1
            while j < b.count, b[j] >= 0x30, b[j] <= 0x39 {
                fraction += Double(b[j] - 0x30) * scale
                scale /= 10
                j += 1
            }
            guard j > i + 1 else { return nil }
            i = j
        }
        guard i < b.count else { return nil }
        var offsetSeconds = 0
        if b[i] | 0x20 == 0x7A {
            i += 1
        } else if b[i] == 0x2B || b[i] == 0x2D {
            guard let oh = number(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let om = number(i + 4, 2),
                  oh < 24, om < 60 else { return nil }
            offsetSeconds = (oh * 60 + om) * 60 * (b[i] == 0x2D ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count, (1...12).contains(month), hour < 24, minute < 60, second <= 60 else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...monthDays).contains(day) else { return nil }
        // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "days_from_civil").
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}

/// The generated server's date transcoder: reads any RFC 3339 date-time (with or without a
/// fraction), writes `YYYY-MM-DDTHH:MM:SSZ` in UTC as the runtime's default does. The
/// runtime's default goes through `ISO8601DateFormatter`, which on Linux built an ICU date
/// formatter for every date written (a policy of 20,000 rules took seconds to encode), so
/// dates are written with FoundationEssentials' format style instead.
struct RFC3339DateTranscoder: DateTranscoder {
    private static let style = Date.ISO8601FormatStyle()

    func encode(_ date: Date) throws -> String { Self.style.format(date) }

    func decode(_ text: String) throws -> Date {
        guard let date = RFC3339.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(text) is not an RFC 3339 date-time"))
        }
        return date
    }
}
