/// RFC 5952 formatting of IPv6 addresses (and, in `IPv6Text+Parsing.swift`, RFC 4291 parsing).
///
/// RFC 5952 §4, the recommended text form:
///
///     4.1.  Leading zeros MUST be suppressed.
///     4.2.1. The use of the symbol "::" MUST be used to its maximum capability.
///     4.2.2. The symbol "::" MUST NOT be used to shorten just one 16-bit 0 field.
///     4.2.3. When there is an alternative choice in the placement of a "::", the
///            longest run of consecutive 16-bit 0 fields MUST be shortened. When the
///            length of the consecutive 16-bit 0 fields are equal, the first sequence
///            of zero bits MUST be shortened.
///     4.3.  The characters "a", "b", "c", "d", "e", and "f" in an IPv6 address MUST be
///            represented in lowercase.
///
/// The mixed notation of §5 (`::ffff:192.0.2.1`) is never needed: IPv4-mapped addresses
/// are folded to IPv4 (`IPAddress.canonical`) before they are written.
enum IPv6Text {
    /// The RFC 5952 text of a 128-bit address.
    static func format(_ value: UInt128) -> String {
        var groups: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &groups) { raw in
            let g = raw.bindMemory(to: UInt16.self)
            for i in 0..<8 { g[i] = UInt16(truncatingIfNeeded: value >> (UInt128(7 - i) * 16)) }
        }
        return withUnsafeBytes(of: &groups) { raw in
            let g = raw.bindMemory(to: UInt16.self)
            // Longest run of zero groups, first on ties, only when at least two long.
            var bestStart = -1, bestLength = 0
            var runStart = -1
            for i in 0...8 {
                if i < 8, g[i] == 0 {
                    if runStart < 0 { runStart = i }
                } else if runStart >= 0 {
                    let length = i - runStart
                    if length > bestLength { bestStart = runStart; bestLength = length }
                    runStart = -1
                }
            }
            if bestLength < 2 { bestStart = -1 }

            var out: [UInt8] = []
            out.reserveCapacity(39)
            var i = 0
            while i < 8 {
                if i == bestStart {
                    out.append(UInt8(ascii: ":"))
                    out.append(UInt8(ascii: ":"))
                    i += bestLength
                    continue
                }
                if i > 0, !(bestStart >= 0 && i == bestStart + bestLength) { out.append(UInt8(ascii: ":")) }
                appendHex(g[i], to: &out)
                i += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    private static func appendHex(_ group: UInt16, to out: inout [UInt8]) {
        var started = false
        for shift in stride(from: 12, through: 0, by: -4) {
            let nibble = Int((group >> UInt16(shift)) & 0xF)
            if nibble != 0 || started || shift == 0 {
                out.append(nibble < 10 ? UInt8(48 + nibble) : UInt8(87 + nibble))
                started = true
            }
        }
    }
}
