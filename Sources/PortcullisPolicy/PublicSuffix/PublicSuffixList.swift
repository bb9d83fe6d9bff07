/// The Public Suffix List (from Debian's `publicsuffix` package, refreshed by
/// `scripts/refresh-public-suffix-list`), compiled once on first use.
public struct PublicSuffixList: Sendable {
    /// The list shipped with Portcullis.
    public static let shipped = PublicSuffixList()

    init() {}

    /// True when `name` is itself a public suffix. With `icannOnly`, only the ICANN section
    /// counts (the private section lists names such as `github.io` and `googleapis.com`).
    public func isPublicSuffix(_ name: DomainName, icannOnly: Bool) -> Bool {
        fatalError("not written yet")
    }

    /// The registrable domain (public suffix plus one label) of `name`, using both sections,
    /// or nil when `name` is itself a public suffix.
    public func registrableDomain(of name: DomainName) -> DomainName? {
        fatalError("not written yet")
    }
}
