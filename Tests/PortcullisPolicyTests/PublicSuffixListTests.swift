import Testing
@testable import PortcullisPolicy

@Suite struct PublicSuffixListTests {
    // Helpers keep the (huge) list value out of failure messages.
    func name(_ text: String) -> DomainName { DomainName(canonical: text) }
    func isSuffix(_ text: String, icannOnly: Bool) -> Bool {
        PublicSuffixList.shipped.isPublicSuffix(name(text), icannOnly: icannOnly)
    }
    func registrable(_ text: String) -> String? { PublicSuffixList.shipped.registrableDomain(of: name(text))?.text }

    @Test("ICANN suffixes are public suffixes in both views", arguments: [
        "com", "uk", "co.uk", "org", "jp", "c.kobe.jp", "foo.ck", "xn--p1ai", "github", "internal", "nope-not-a-tld",
        "ac.jp", "ak.us", "k12.ak.us", "mm", "c.mm", "xn--55qx5d.cn",
    ])
    func icannSuffix(text: String) {
        #expect(isSuffix(text, icannOnly: true))
        #expect(isSuffix(text, icannOnly: false))
        #expect(registrable(text) == nil)
    }

    @Test("private-section suffixes count only when the private section is included", arguments: [
        "github.io", "googleapis.com", "githubusercontent.com", "blogspot.com", "herokuapp.com",
    ])
    func privateSuffix(text: String) {
        #expect(!isSuffix(text, icannOnly: true))
        #expect(isSuffix(text, icannOnly: false))
        #expect(registrable(text) == nil)
    }

    @Test("names below a suffix are not suffixes", arguments: [
        "example.com", "example.co.uk", "www.ck", "city.kawasaki.jp", "api.openai.com", "a.b.c.example", "kawasaki.jp",
    ])
    func notSuffix(text: String) {
        #expect(!isSuffix(text, icannOnly: true))
        #expect(!isSuffix(text, icannOnly: false))
    }

    @Test("the registrable domain is the public suffix plus one label, both sections counted", arguments: [
        ("api.openai.com", "openai.com"), ("openai.com", "openai.com"), ("a.b.example.co.uk", "example.co.uk"),
        ("user.github.io", "user.github.io"), ("x.user.github.io", "user.github.io"),
        ("storage.googleapis.com", "storage.googleapis.com"), ("www.ck", "www.ck"), ("a.www.ck", "www.ck"),
        ("a.b.foo.ck", "b.foo.ck"), ("city.kawasaki.jp", "city.kawasaki.jp"), ("a.b.kawasaki.jp", "a.b.kawasaki.jp"),
        ("x.a.b.kawasaki.jp", "a.b.kawasaki.jp"), ("kawasaki.jp", "kawasaki.jp"),
        ("host.internal", "host.internal"), ("a.host.internal", "host.internal"),
        ("xn--80ak6aa92e.xn--p1ai", "xn--80ak6aa92e.xn--p1ai"),
        // From the PSL's own test_psl.txt:
        ("example.com", "example.com"), ("a.b.example.com", "example.com"), ("example.uk.com", "example.uk.com"),
        ("test.ac", "test.ac"), ("b.c.mm", "b.c.mm"), ("test.ac.jp", "test.ac.jp"), ("b.c.kobe.jp", "b.c.kobe.jp"),
        ("www.city.kobe.jp", "city.kobe.jp"), ("b.test.ck", "b.test.ck"), ("www.www.ck", "www.ck"),
        ("test.k12.ak.us", "test.k12.ak.us"), ("xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),
    ])
    func registrableDomain(text: String, expected: String) {
        #expect(registrable(text) == expected)
    }

    @Test("IDN rules are held as A-labels")
    func idnRules() throws {
        // 公司.cn and 网络.cn are ICANN rules written in Unicode in the list.
        let company = try HostParser.parseTarget("公司.cn")
        guard case .name(let domain) = company else {
            Issue.record("not a name")
            return
        }
        #expect(PublicSuffixList.shipped.isPublicSuffix(domain, icannOnly: true))
        #expect(PublicSuffixList.shipped.normal[domain.text] == .icann)
    }

    @Test("the shipped list has both sections")
    func hasSections() {
        let list = PublicSuffixList.shipped
        #expect(list.normal.count > 5_000)
        #expect(list.normal.values.contains(.privateDomains))
        #expect(!list.wildcard.isEmpty)
        #expect(!list.exception.isEmpty)
        #expect(list.exception["www.ck"] == .icann)
    }

    @Test("parsing the shipped list again gives the same list (its speed is the policy benchmark's business)")
    func parsesTheSame() {
        // A timing here would measure the machine, not the code (the machine is shared and
        // noisy); `portcullis-policy-bench` reports parse time beside its other figures.
        let again = PublicSuffixList(rules: PublicSuffixList.rulesText)
        #expect(again.normal.count == PublicSuffixList.shipped.normal.count)
        #expect(again.wildcard.count == PublicSuffixList.shipped.wildcard.count)
        #expect(again.exception.count == PublicSuffixList.shipped.exception.count)
    }
}
