/// A point in time as milliseconds since the Unix epoch. The engine never reads a clock:
/// callers pass times in.
public struct Timestamp: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public func adding(milliseconds delta: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + delta) }

    public var description: String { "\(milliseconds)ms" }
}

/// A window such as `7d`, `24h`, `30m` or `90s`, as the API's `since` takes it.
public struct TimeWindow: Hashable, Sendable, CustomStringConvertible {
    public let milliseconds: Int64
    public let text: String

    /// Parses `<n><unit>` with unit `s`, `m`, `h`, `d` or `w`; n from 1 to 3650 days' worth.
    public init?(parsing input: String) {
        guard let unit = input.last, input.count >= 2, input.count <= 8 else { return nil }
        let digits = input.dropLast()
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0",
              let n = Int64(digits) else { return nil }
        let scale: Int64
        switch unit {
        case "s": scale = 1000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        case "d": scale = 86_400_000
        case "w": scale = 7 * 86_400_000
        default: return nil
        }
        let (total, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow, total <= 3650 * 86_400_000 else { return nil }
        self.milliseconds = total
        self.text = input
    }

    public var description: String { text }
}
