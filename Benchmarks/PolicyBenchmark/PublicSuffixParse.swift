import Foundation
import PortcullisPolicy

/// What parsing the shipped Public Suffix List costs: once on first use (what a process
/// pays the first time a wildcard rule is validated or suggestions are computed), then
/// parsed again from the same text, 20 times, for a steady figure. Call `firstUse()` before
/// anything touches `PublicSuffixList.shipped`.
enum PublicSuffixParse {
    static let clock = ContinuousClock()

    static func ms(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    /// The first use of `PublicSuffixList.shipped` in this process, in milliseconds.
    static func firstUse() -> Double {
        let start = clock.now
        let list = PublicSuffixList.shipped
        let elapsed = clock.now - start
        check(list)
        return ms(elapsed)
    }

    /// Parses the shipped text `runs` times; prints the row with the first-use figure.
    static func report(firstUseMs: Double, runs: Int = 20) {
        var samples: [Double] = []
        for _ in 0..<runs {
            let start = clock.now
            let list = PublicSuffixList(rules: PublicSuffixList.rulesText)
            samples.append(ms(clock.now - start))
            check(list)
        }
        samples.sort()
        let rules = PublicSuffixList.rulesText.utf8.lazy.filter { $0 == UInt8(ascii: "\n") }.count
        print("")
        print("Public Suffix List (\(rules) lines of rules):")
        print(String(format: "  first use %.1f ms; parsed again: median %.1f ms, min %.1f ms, max %.1f ms (%d runs)",
                     firstUseMs, samples[samples.count / 2], samples[0], samples[samples.count - 1], runs))
    }

    /// A parse that lost rules would make these answers wrong (and keeps the work observable).
    private static func check(_ list: PublicSuffixList) {
        guard list.isListedPublicSuffix(DomainName(canonical: "co.uk"), icannOnly: true),
              !list.isListedPublicSuffix(DomainName(canonical: "example.co.uk"), icannOnly: true),
              list.registrableDomain(of: DomainName(canonical: "a.b.example.co.uk"))?.text == "example.co.uk"
        else { fatalError("the parsed Public Suffix List answers wrongly") }
    }
}
