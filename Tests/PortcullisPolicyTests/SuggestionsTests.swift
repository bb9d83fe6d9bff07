@testable import PortcullisPolicy
import Testing

@Suite("Suggestions")
struct SuggestionsTests {
    @Test("hosts come most used first, with counts summed over ports and the ports listed")
    func ordering() {
        let report = Suggestions.compute([
            .init(host: "pypi.org", port: 443, count: 29), .init(host: "api.openai.com", port: 443, count: 1247),
            .init(host: "github.com", port: 443, count: 400), .init(host: "github.com", port: 22, count: 12),
            .init(host: "b.test", port: 443, count: 5), .init(host: "a.test", port: 443, count: 5),
        ])
        #expect(report.items.map(\.host) == ["api.openai.com", "github.com", "pypi.org", "a.test", "b.test"])
        #expect(report.items[1].count == 412)
        #expect(report.items[1].ports == [22, 443])
    }

    @Test("what was asked but is no host a rule can name exactly is never suggested")
    func onlyHosts() {
        let report = Suggestions.compute([
            .init(host: "0.0.0.0/0", port: 443, count: 9), .init(host: "::/0", port: 443, count: 9),
            .init(host: "10.0.0.0/8", port: 80, count: 9), .init(host: "*.test", port: 80, count: 9), .init(host: "*", port: 80, count: 9),
            .init(host: "/", port: nil, count: 9), .init(host: "a<b>c.test", port: 80, count: 9),
            .init(host: "ok.test", port: 443, count: 1), .init(host: "10.1.2.3", port: 22, count: 1),
        ])
        #expect(report.items.map(\.host) == ["10.1.2.3", "ok.test"])
        #expect(report.hostsToAllow.allSatisfy { (try? HostParser.parseTarget($0)) != nil })
    }

    @Test("recommendations follow the lockdown playbook's table", arguments: [
        ("api.openai.com", Recommendation.keep), ("api.github.com", .keep), ("pypi.org", .keep),
        ("files.pythonhosted.org", .keep), ("pythonhosted.org", .keep), ("registry.npmjs.org", .keep),
        ("fonts.gstatic.com", .question), ("cdn.jsdelivr.net", .question), ("169.254.169.254", .deny),
        ("metadata.google.internal", .deny), ("ifconfig.me", .question), ("ipinfo.io", .question),
        ("checkip.amazonaws.com", .question), ("10.0.0.7", .deny), ("unknown-vendor.example", .investigate),
        ("93.184.216.34", .investigate),
    ])
    func recommendation(host: String, expected: Recommendation) {
        let (r, reason) = RecommendationCatalogue.shipped.recommend(host)
        #expect(r == expected)
        #expect(!reason.isEmpty)
    }

    @Test("three or more subdomains of one registrable domain earn a wildcard proposal")
    func wildcards() {
        let report = Suggestions.compute([
            .init(host: "a.cdn.example.co.uk", port: 443, count: 3), .init(host: "b.example.co.uk", port: 443, count: 2),
            .init(host: "c.example.co.uk", port: 443, count: 1), .init(host: "example.co.uk", port: 443, count: 9),
            .init(host: "x.two.test", port: 443, count: 1), .init(host: "y.two.test", port: 443, count: 1),
            .init(host: "one.github.io", port: 443, count: 1), .init(host: "two.github.io", port: 443, count: 1),
            .init(host: "three.github.io", port: 443, count: 1),
        ])
        #expect(report.wildcards == [WildcardProposal(pattern: "*.example.co.uk",
                                                      covers: ["a.cdn.example.co.uk", "b.example.co.uk", "c.example.co.uk"], count: 6)])
    }

    @Test("lockdown from suggestions allows every suggested host but those recommended deny")
    func hostsToAllow() {
        let report = Suggestions.compute([
            .init(host: "api.openai.com", port: 443, count: 5), .init(host: "169.254.169.254", port: 80, count: 2),
            .init(host: "ifconfig.me", port: 443, count: 1), .init(host: "new.example", port: 443, count: 1),
        ])
        #expect(Set(report.hostsToAllow) == ["api.openai.com", "ifconfig.me", "new.example"])
    }

    @Test("tallying raw records respects the window")
    func tally() {
        let records: [(host: String, port: UInt16?, time: Timestamp)] = [
            ("a.test", 443, Timestamp(seconds: 5)), ("a.test", 443, Timestamp(seconds: 50)), ("b.test", 80, Timestamp(seconds: 60)),
        ]
        let t = Suggestions.tally(records, since: Timestamp(seconds: 10))
        #expect(Set(t) == [Suggestions.Tally(host: "a.test", port: 443, count: 1), Suggestions.Tally(host: "b.test", port: 80, count: 1)])
    }
}
