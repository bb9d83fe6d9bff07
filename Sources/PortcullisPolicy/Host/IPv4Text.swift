/// IPv4 text: the spellings C resolvers accept, the strict dotted quad, and the WHATWG
/// "ends in a number" test that decides whether a host is read as IPv4 at all.
///
/// `inet_aton(3)`:
///
///     a       When only one part is given, the value is stored directly in the
///             network address without any byte rearrangement.
///     a.b     Part a specifies the first byte; part b is interpreted as a 24-bit value.
///     a.b.c   Parts a and b specify the first two bytes; part c is a 16-bit value.
///     a.b.c.d Each of the four parts specifies a byte of the address.
///     In all of the above forms, components of the dotted address can be specified
///     in decimal, octal (with a leading 0), or hexadecimal, with a leading 0X.
///
/// WHATWG URL Standard, "ends in a number checker":
///
///     1. Let parts be the result of strictly splitting input on U+002E (.).
///     2. If the last item in parts is the empty string, then:
///        1. If parts's size is 1, return false.
///        2. Remove the last item from parts.
///     3. Let last be the last item in parts.
///     4. If last is non-empty and contains only ASCII digits, then return true.
///     5. If parsing last as an IPv4 number does not return failure, then return true.
///     6. Return false.
enum IPv4Text {
    /// True when the host must be read as IPv4 (and is then never a name).
    static func endsInNumber(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        var end = range.upperBound
        guard end > range.lowerBound else { return false }
        if b[end - 1] == dot {
            if end - 1 == range.lowerBound { return false }
            end -= 1
        }
        var start = end
        while start > range.lowerBound, b[start - 1] != dot { start -= 1 }
        guard start < end else { return false }
        if (start..<end).allSatisfy({ isDecimal(b[$0]) }) { return true }
        if end - start >= 2, b[start] == zero, b[start + 1] | 0x20 == UInt8(ascii: "x") {
            return (start + 2..<end).allSatisfy { isHex(b[$0]) }
        }
        return false
    }

    /// Parses any `inet_aton` spelling (1–4 parts, decimal, octal or hex), allowing one
    /// trailing dot. Returns nil for empty parts, bad digits, more than four parts or a
    /// part out of range.
    static func parseResolverSpelling(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt32? {
        var end = range.upperBound
        if end > range.lowerBound, b[end - 1] == dot { end -= 1 }
        guard end > range.lowerBound else { return nil }
        // Parts before the last are bytes, shifted into place once a later part shows they
        // are not the last; the last part fills the remaining bytes.
        var leading: UInt32 = 0
        var last: UInt32 = 0
        var count = 0
        var i = range.lowerBound
        while true {
            var partEnd = i
            while partEnd < end, b[partEnd] != dot { partEnd += 1 }
            guard partEnd > i, count < 4, let value = number(b, i..<partEnd) else { return nil }
            if count > 0 {
                guard last <= 255 else { return nil }
                leading |= last << UInt32(24 - 8 * (count - 1))
            }
            last = value
            count += 1
            if partEnd == end { break }
            i = partEnd + 1
        }
        let lastBits = 8 * (5 - count)
        guard lastBits >= 32 || last < (UInt32(1) << UInt32(lastBits)) else { return nil }
        return leading | last
    }

    /// Parses exactly four decimal parts 0–255 with no leading zeros and no trailing dot
    /// (the only IPv4 spelling accepted in a CIDR and inside IPv6 text).
    static func parseDottedQuad(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt32? {
        var value: UInt32 = 0
        var count = 0
        var i = range.lowerBound
        while count < 4 {
            let start = i
            var part: UInt32 = 0
            while i < range.upperBound, i - start < 3, isDecimal(b[i]) {
                part = part * 10 + UInt32(b[i] - zero)
                i += 1
            }
            let length = i - start
            guard length > 0, part <= 255, length == 1 || b[start] != zero else { return nil }
            value = value << 8 | part
            count += 1
            if count < 4 {
                guard i < range.upperBound, b[i] == dot else { return nil }
                i += 1
            }
        }
        return i == range.upperBound ? value : nil
    }

    /// One part: `0x…` hex (no digits means 0, as in WHATWG and glibc), `0…` octal, or
    /// decimal. Nil on a bad digit or a value above 2³² − 1.
    private static func number(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt32? {
        var start = range.lowerBound
        var radix: UInt64 = 10
        if range.count >= 2, b[start] == zero {
            if b[start + 1] | 0x20 == UInt8(ascii: "x") {
                radix = 16
                start += 2
            } else {
                radix = 8
                start += 1
            }
        }
        var value: UInt64 = 0
        for i in start..<range.upperBound {
            let c = b[i]
            let digit: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(c - zero)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt64(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            guard digit < radix else { return nil }
            value = value * radix + digit
            if value > UInt64(UInt32.max) { return nil }
        }
        return UInt32(value)
    }

    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")

    @inline(__always) static func isDecimal(_ c: UInt8) -> Bool { c &- zero < 10 }

    @inline(__always) static func isHex(_ c: UInt8) -> Bool {
        isDecimal(c) || (c | 0x20) &- UInt8(ascii: "a") < 6
    }
}
