/// The one canonicaliser for hosts: rule patterns, targets, SNI values, Host headers and
/// DNS question names all go through it, so a host is never matched in one spelling and
/// dialled in another.
///
/// The order of the checks (each refusal names the accepted form, see
/// `HostError+Messages.swift`):
/// 1. length: empty, or over `maxInputBytes` UTF-8 bytes, before any other work;
/// 2. one pass over the bytes: control characters, white space, a scheme (`://`);
/// 3. non-ASCII input only: the Unicode pre-pass (`HostParser+Unicode.swift`);
/// 4. shape: `[IPv6]`, userinfo (`@`), IPv6 (two or more `:`), a port (one `:`),
///    percent-encoding, a `/` (a CIDR after an IP, a path otherwise);
/// 5. a host that ends in a number (WHATWG) is IPv4 in any `inet_aton` spelling, never a
///    name; everything else is a name (`HostParser+Name.swift`).
public enum HostParser {
    /// Inputs longer than this many UTF-8 bytes are refused before any parsing.
    public static let maxInputBytes = 1024

    /// What the caller is parsing; decides which forms are accepted.
    enum Mode {
        /// A rule's host field: names, wildcards, addresses, CIDRs.
        case pattern
        /// A connection target: a name or an address.
        case target
        /// `parseNetwork`: an address or a CIDR.
        case network
        /// `parseAddress`: an address only.
        case address
    }

    /// Parses a rule's `host` field: an exact name, `*.name`, an IP literal or a CIDR.
    ///
    /// A `/32` or `/128` CIDR comes back as `.address`. A wildcard directly over a public
    /// suffix listed in the ICANN section (`*.com`, `*.co.uk`, `*.foo.ck`) is refused; names
    /// only the default rule `*` makes suffixes are accepted (`*.internal`, `*.corp`), as
    /// are suffixes from the PRIVATE section
    /// (`*.googleapis.com`, `*.github.io`, `*.githubusercontent.com`), since those names
    /// belong to one operator.
    public static func parsePattern(_ input: String) throws(HostError) -> HostPattern {
        try parse(input, .pattern)
    }

    /// Parses what a client asked for: a name or an IP literal (no wildcard, no CIDR).
    /// IPv6 may come bracketed. Every IPv4 spelling resolvers accept is an address.
    public static func parseTarget(_ input: String) throws(HostError) -> TargetHost {
        switch try parse(input, .target) {
        case .exact(let name): return .name(name)
        case .address(let address): return .address(address)
        case .wildcard: throw .wildcardNotAllowed(input)
        case .network: throw .cidrNotAllowed(input)
        }
    }

    /// Parses an IP literal only (IPv4 in every resolver spelling, IPv6 with or without
    /// brackets, IPv4-mapped IPv6 folded to IPv4). Returns nil for anything else.
    public static func parseAddress(_ input: String) -> IPAddress? {
        guard let pattern = try? parse(input, .address) else { return nil }
        switch pattern {
        case .address(let address): return address
        case .exact, .wildcard, .network: return nil
        }
    }

    /// Parses `ADDRESS/PREFIX` (or a bare address, as a full-length prefix).
    ///
    /// As in patterns, the IPv4 side of a CIDR must be a strict dotted quad, host bits must
    /// be clear, and an IPv4-mapped IPv6 CIDR with a prefix of 96 or more is the IPv4 CIDR
    /// of prefix − 96.
    public static func parseNetwork(_ input: String) throws(HostError) -> IPNetwork {
        switch try parse(input, .network) {
        case .network(let network): return network
        case .address(let address): return IPNetwork(masking: address, prefixLength: address.bitWidth)
        case .exact, .wildcard: throw .notAnAddress(input, .network)
        }
    }

    /// Length checks, then the byte-level parse on contiguous UTF-8.
    static func parse(_ input: String, _ mode: Mode) throws(HostError) -> HostPattern {
        let count = input.utf8.count
        if count == 0 { throw .empty(mode) }
        if count > maxInputBytes { throw .inputTooLong(input, bytes: count) }
        let result = input.utf8.withContiguousStorageIfAvailable { bytes in
            capture { () throws(HostError) in try parse(bytes, original: input, text: input, mode, prepared: false) }
        } ?? Array(input.utf8).withUnsafeBufferPointer { bytes in
            capture { () throws(HostError) in try parse(bytes, original: input, text: input, mode, prepared: false) }
        }
        return try result.get()
    }

    /// Runs `body`, turning its typed error into a `Result` (closures passed to `rethrows`
    /// functions would otherwise erase the error type).
    @inline(__always)
    static func capture<T>(_ body: () throws(HostError) -> T) -> Result<T, HostError> {
        do { return .success(try body()) } catch { return .failure(error) }
    }

    /// The byte-level parse. `original` is what the caller passed (for messages); `text`
    /// is the string `b` holds (the Unicode pre-pass output when `prepared`).
    static func parse(
        _ b: UnsafeBufferPointer<UInt8>, original: String, text: String, _ mode: Mode, prepared: Bool
    ) throws(HostError) -> HostPattern {
        var shape = Shape()
        for i in 0..<b.count {
            let c = b[i]
            switch c {
            case 0x09, 0x20: throw .whitespace(original)
            case 0x00..<0x20, 0x7F: throw .controlCharacter(original)
            case 0x80...: shape.nonASCII = true
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): shape.upperCase = true
            case UInt8(ascii: ":"):
                if b.count - i > 2, b[i + 1] == UInt8(ascii: "/"), b[i + 2] == UInt8(ascii: "/") {
                    throw .scheme(original)
                }
                if shape.colons == 0 { shape.firstColon = i }
                shape.colons += 1
            case UInt8(ascii: "/"): if shape.firstSlash < 0 { shape.firstSlash = i }
            case UInt8(ascii: "@"): if shape.firstAt < 0 { shape.firstAt = i }
            case UInt8(ascii: "%"): shape.percent = true
            case UInt8(ascii: "*"): shape.star = true
            default: break
            }
        }
        if shape.nonASCII && !prepared {
            let mapped = try prepareUnicode(original)
            let result = mapped.utf8.withContiguousStorageIfAvailable { bytes in
                capture { () throws(HostError) in try parse(bytes, original: original, text: mapped, mode, prepared: true) }
            } ?? Array(mapped.utf8).withUnsafeBufferPointer { bytes in
                capture { () throws(HostError) in try parse(bytes, original: original, text: mapped, mode, prepared: true) }
            }
            return try result.get()
        }

        if b[0] == UInt8(ascii: "[") { return try parseBracketed(b, original, mode) }
        // `user@host/path` is userinfo; `host/@x` is a path.
        if shape.firstAt >= 0, shape.firstSlash < 0 || shape.firstAt < shape.firstSlash { throw .userinfo(original) }
        if shape.colons >= 2 {
            if shape.percent { throw .zoneID(original) }
            return try parseIPv6(b, 0..<b.count, slash: shape.firstSlash, original, mode)
        }
        if shape.colons == 1 {
            let after = shape.firstColon + 1..<b.count
            if !after.isEmpty, after.allSatisfy({ IPv4Text.isDecimal(b[$0]) }) { throw .port(original, mode) }
            throw .invalidCharacter(original, ":")
        }
        if shape.percent { throw .percentEncoding(original) }
        if shape.firstSlash >= 0 { return try parseSlash(b, slash: shape.firstSlash, original, mode) }

        if IPv4Text.endsInNumber(b, 0..<b.count) {
            guard let value = IPv4Text.parseResolverSpelling(b, 0..<b.count) else { throw .invalidIPv4(original) }
            return .address(.v4(IPv4Address(value)))
        }
        switch mode {
        case .pattern, .target: return try parseName(b, original: original, text: text, mode, shape: shape)
        case .network, .address: throw .notAnAddress(original, mode)
        }
    }

    /// What the first pass over the bytes found.
    struct Shape {
        var nonASCII = false
        var upperCase = false
        var colons = 0
        var firstColon = -1
        var firstSlash = -1
        var firstAt = -1
        var percent = false
        var star = false
    }
}
