/// RFC 4291 §2.2, text representation of addresses:
///
///     1. The preferred form is x:x:x:x:x:x:x:x, where the 'x's are one to four
///        hexadecimal digits of the eight 16-bit pieces of the address.
///     2. ... In order to make writing addresses containing zero bits easier, a
///        special syntax is available to compress the zeros. The use of "::"
///        indicates one or more groups of 16 bits of zeros. The "::" can only
///        appear once in an address.
///     3. An alternative form that is sometimes more convenient when dealing with a
///        mixed environment of IPv4 and IPv6 nodes is x:x:x:x:x:x:d.d.d.d, where the
///        'x's are the hexadecimal values of the six high-order 16-bit pieces of the
///        address, and the 'd's are the decimal values of the four low-order 8-bit
///        pieces of the address (standard IPv4 representation).
///
/// Brackets and zone ids are the caller's business; this reads the bare address only.
/// The embedded IPv4 part must be a strict dotted quad.
extension IPv6Text {
    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt128? {
        let end = range.upperBound
        var i = range.lowerBound
        var value: UInt128 = 0
        var groups = 0
        var compressAt = -1
        let colon = UInt8(ascii: ":")

        if end - i >= 2, b[i] == colon, b[i + 1] == colon {
            compressAt = 0
            i += 2
        } else if i < end, b[i] == colon {
            return nil
        }
        while i < end {
            let start = i
            var group: UInt128 = 0
            while i < end, i - start < 5, let d = hexValue(b[i]) {
                group = group << 4 | UInt128(d)
                i += 1
            }
            if i < end, b[i] == IPv4Text.dot {
                guard groups <= 6, let v4 = IPv4Text.parseDottedQuad(b, start..<end) else { return nil }
                value = value << 32 | UInt128(v4)
                groups += 2
                i = end
                break
            }
            let digits = i - start
            guard digits >= 1, digits <= 4, groups < 8 else { return nil }
            value = value << 16 | group
            groups += 1
            if i == end { break }
            guard b[i] == colon else { return nil }
            i += 1
            if i < end, b[i] == colon {
                guard compressAt < 0 else { return nil }
                compressAt = groups
                i += 1
            } else if i == end {
                return nil
            }
        }
        if compressAt < 0 {
            return groups == 8 ? value : nil
        }
        // "::" stands for at least one zero group: shift the groups after it into place.
        guard groups <= 7 else { return nil }
        let after = groups - compressAt
        let missing = 8 - groups
        let lowMask: UInt128 = after == 0 ? 0 : (~UInt128(0)) >> UInt128(128 - 16 * after)
        let low = value & lowMask
        let high = after == groups ? 0 : value >> UInt128(16 * after)
        return (high << UInt128(16 * (after + missing))) | low
    }

    @inline(__always)
    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
