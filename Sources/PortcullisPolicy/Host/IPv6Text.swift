/// RFC 5952 formatting of IPv6 addresses.
enum IPv6Text {
    static func format(_ value: UInt128) -> String {
        fatalError("IPv6Text.format is not written yet")
    }
}
