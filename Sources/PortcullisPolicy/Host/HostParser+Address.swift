/// IP literals and CIDRs: `[IPv6]`, bare IPv6, `ADDRESS/PREFIX`.
extension HostParser {
    /// `[` IPv6 `]`, optionally followed by `/PREFIX` (patterns and networks).
    /// A zone id inside the brackets (`[fe80::1%25eth0]`) is refused.
    static func parseBracketed(_ b: UnsafeBufferPointer<UInt8>, _ original: String, _ mode: Mode) throws(HostError) -> HostPattern {
        var close = 1
        while close < b.count, b[close] != UInt8(ascii: "]") {
            if b[close] == UInt8(ascii: "%") { throw .zoneID(original) }
            close += 1
        }
        guard close < b.count, close > 1 else { throw .invalidIPv6(original) }
        guard let value = IPv6Text.parse(b, 1..<close) else { throw .invalidIPv6(original) }
        let rest = close + 1
        if rest == b.count { return .address(IPAddress.canonical(IPv6Address(value))) }
        switch b[rest] {
        case UInt8(ascii: "/"):
            return try network(v6: value, prefix: b, rest + 1..<b.count, original, mode)
        case UInt8(ascii: ":"):
            throw .port(original, mode)
        default:
            throw .invalidIPv6(original)
        }
    }

    /// Unbracketed IPv6 (two or more colons), optionally with `/PREFIX`.
    static func parseIPv6(
        _ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, slash: Int, _ original: String, _ mode: Mode
    ) throws(HostError) -> HostPattern {
        let addressEnd = slash >= 0 ? slash : range.upperBound
        guard let value = IPv6Text.parse(b, range.lowerBound..<addressEnd) else {
            if slash >= 0, !(range.lowerBound..<slash).contains(where: { b[$0] == UInt8(ascii: ":") }) {
                throw .path(original)
            }
            throw .invalidIPv6(original)
        }
        if slash < 0 { return .address(IPAddress.canonical(IPv6Address(value))) }
        return try network(v6: value, prefix: b, slash + 1..<range.upperBound, original, mode)
    }

    /// A `/` outside IPv6: `10.0.0.0/8` when the part before it ends in a number (and is
    /// then held to the strict dotted quad), a path otherwise (`x.com/a`, `x.com/24`).
    static func parseSlash(_ b: UnsafeBufferPointer<UInt8>, slash: Int, _ original: String, _ mode: Mode) throws(HostError) -> HostPattern {
        guard IPv4Text.endsInNumber(b, 0..<slash) else { throw .path(original) }
        switch mode {
        case .target, .address: throw .cidrNotAllowed(original)
        case .pattern, .network: break
        }
        guard let value = IPv4Text.parseDottedQuad(b, 0..<slash) else { throw .strictIPv4(original) }
        let prefix = try prefixLength(b, slash + 1..<b.count, max: 32, original)
        return try network(.v4(IPv4Address(value)), prefix: prefix, original)
    }

    /// The CIDR for an IPv6 address; IPv4-mapped with a prefix ≥ 96 becomes IPv4.
    static func network(
        v6 value: UInt128, prefix b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ original: String, _ mode: Mode
    ) throws(HostError) -> HostPattern {
        switch mode {
        case .target, .address: throw .cidrNotAllowed(original)
        case .pattern, .network: break
        }
        let prefix = try prefixLength(b, range, max: 128, original)
        let address = IPv6Address(value)
        if let v4 = address.ipv4Mapped, prefix >= 96 {
            return try network(.v4(v4), prefix: prefix - 96, original)
        }
        return try network(.v6(address), prefix: prefix, original)
    }

    /// Refuses host bits (naming the right prefix); a full-length prefix is an address.
    static func network(_ address: IPAddress, prefix: UInt8, _ original: String) throws(HostError) -> HostPattern {
        let network = IPNetwork(masking: address, prefixLength: prefix)
        guard network.address == address else { throw .hostBitsSet(original, corrected: network.description) }
        return prefix == address.bitWidth ? .address(address) : .network(network)
    }

    /// A prefix length: decimal, no sign, no leading zeros, at most `max`.
    static func prefixLength(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, max: UInt8, _ original: String) throws(HostError) -> UInt8 {
        guard !range.isEmpty, range.count <= 3, range.count == 1 || b[range.lowerBound] != IPv4Text.zero else {
            throw .invalidPrefix(original, max: Int(max))
        }
        var value = 0
        for i in range {
            guard IPv4Text.isDecimal(b[i]) else { throw .invalidPrefix(original, max: Int(max)) }
            value = value * 10 + Int(b[i] - IPv4Text.zero)
        }
        guard value <= Int(max) else { throw .invalidPrefix(original, max: Int(max)) }
        return UInt8(value)
    }
}
