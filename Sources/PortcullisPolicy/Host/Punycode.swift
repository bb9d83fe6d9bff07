/// Punycode (RFC 3492) and the IDNA ToASCII step for one label.
///
/// RFC 3492 §5, parameter values for Punycode:
///
///     base         = 36
///     tmin         = 1
///     tmax         = 26
///     skew         = 38
///     damp         = 700
///     initial_bias = 72
///     initial_n    = 128 = 0x80
///
/// Digits are `a`–`z` (0–25) and `0`–`9` (26–35); the encoder writes lower case, the
/// decoder reads either case. Mixed-case annotation (§A) is not produced: DNS labels are
/// lower-cased before they are encoded. All arithmetic is checked against `UInt32`
/// overflow (§6.4), so hostile input fails instead of trapping.
public enum Punycode {
    static let base: UInt32 = 36
    static let tMin: UInt32 = 1
    static let tMax: UInt32 = 26
    static let skew: UInt32 = 38
    static let damp: UInt32 = 700
    static let initialBias: UInt32 = 72
    static let initialN: UInt32 = 0x80
    static let delimiter = UInt8(ascii: "-")

    /// Encodes a sequence of code points as a Punycode string (without the `xn--` prefix).
    ///
    /// Returns nil only when the input is so long that a counter would overflow.
    ///
    /// RFC 3492 §6.3:
    ///
    ///     let n = initial_n, delta = 0, bias = initial_bias
    ///     let h = b = the number of basic code points in the input
    ///     copy them to the output in order, followed by a delimiter if b > 0
    ///     while h < length(input) do begin
    ///       let m = the minimum {non-basic} code point >= n in the input
    ///       let delta = delta + (m - n) * (h + 1), fail on overflow
    ///       let n = m
    ///       for each code point c in the input (in order) do begin
    ///         if c < n {or c is basic} then increment delta, fail on overflow
    ///         if c == n then begin
    ///           let q = delta
    ///           for k = base to infinity in steps of base do begin
    ///             let t = tmin if k <= bias {+ tmin}, or
    ///                     tmax if k >= bias + tmax, or k - bias otherwise
    ///             if q < t then break
    ///             output the code point for digit t + ((q - t) mod (base - t))
    ///             let q = (q - t) div (base - t)
    ///           end
    ///           output the code point for digit q
    ///           let bias = adapt(delta, h + 1, test h equals b?)
    ///           let delta = 0
    ///           increment h
    ///         end
    ///       end
    ///       increment delta and n
    ///     end
    public static func encode(_ scalars: [Unicode.Scalar]) -> String? {
        var output: [UInt8] = []
        output.reserveCapacity(scalars.count + 8)
        for scalar in scalars where scalar.value < initialN {
            output.append(UInt8(truncatingIfNeeded: scalar.value))
        }
        guard let basicCount = UInt32(exactly: output.count),
              let total = UInt32(exactly: scalars.count) else { return nil }
        var handled = basicCount
        if basicCount > 0 { output.append(delimiter) }

        var n = initialN
        var delta: UInt32 = 0
        var bias = initialBias
        while handled < total {
            var m = UInt32.max
            for scalar in scalars where scalar.value >= n && scalar.value < m { m = scalar.value }
            let (step, overflow1) = (m - n).multipliedReportingOverflow(by: handled + 1)
            if overflow1 { return nil }
            let (sum, overflow2) = delta.addingReportingOverflow(step)
            if overflow2 { return nil }
            delta = sum
            n = m
            for scalar in scalars {
                let c = scalar.value
                if c < n {
                    let (next, overflow) = delta.addingReportingOverflow(1)
                    if overflow { return nil }
                    delta = next
                }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = threshold(k, bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, handled + 1, firstTime: handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            let (nextDelta, overflow3) = delta.addingReportingOverflow(1)
            if overflow3 || n == UInt32.max { return nil }
            delta = nextDelta
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes a Punycode string (without the `xn--` prefix) into code points.
    ///
    /// Returns nil for anything RFC 3492 §6.2 says to fail on: a non-basic character
    /// before the delimiter, a character that is not a digit after it, a truncated
    /// number, overflow, or a result that is a basic code point, a surrogate or above
    /// U+10FFFF.
    ///
    /// RFC 3492 §6.2:
    ///
    ///     let n = initial_n, i = 0, bias = initial_bias, output = an empty string
    ///     consume all code points before the last delimiter (if there is one) and
    ///       copy them to output, fail on any non-basic code point
    ///     if more than zero code points were consumed then consume one more
    ///     while the input is not exhausted do begin
    ///       let oldi = i, w = 1
    ///       for k = base to infinity in steps of base do begin
    ///         consume a code point, or fail if there was none to consume
    ///         let digit = the code point's digit-value, fail if it has none
    ///         let i = i + digit * w, fail on overflow
    ///         let t = tmin if k <= bias {+ tmin}, or
    ///                 tmax if k >= bias + tmax, or k - bias otherwise
    ///         if digit < t then break
    ///         let w = w * (base - t), fail on overflow
    ///       end
    ///       let bias = adapt(i - oldi, length(output) + 1, test oldi is 0?)
    ///       let n = n + i div (length(output) + 1), fail on overflow
    ///       let i = i mod (length(output) + 1)
    ///       {if n is a basic code point then fail}
    ///       insert n into output at position i
    ///       increment i
    ///     end
    public static func decode(_ text: String) -> [Unicode.Scalar]? {
        let bytes = Array(text.utf8)
        var basicEnd = 0
        if let last = bytes.lastIndex(of: delimiter) { basicEnd = last }
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(bytes.count)
        for byte in bytes[0..<basicEnd] {
            guard byte < 0x80 else { return nil }
            output.append(Unicode.Scalar(byte))
        }
        var position = basicEnd > 0 ? basicEnd + 1 : 0

        var n = initialN
        var i: UInt32 = 0
        var bias = initialBias
        while position < bytes.count {
            let oldI = i
            var w: UInt32 = 1
            var k = base
            while true {
                guard position < bytes.count, let d = digitValue(bytes[position]) else { return nil }
                position += 1
                let (product, overflow1) = d.multipliedReportingOverflow(by: w)
                if overflow1 { return nil }
                let (sum, overflow2) = i.addingReportingOverflow(product)
                if overflow2 { return nil }
                i = sum
                let t = threshold(k, bias)
                if d < t { break }
                let (weight, overflow3) = w.multipliedReportingOverflow(by: base - t)
                if overflow3 { return nil }
                w = weight
                k += base
            }
            guard let length = UInt32(exactly: output.count + 1) else { return nil }
            bias = adapt(i - oldI, length, firstTime: oldI == 0)
            let (next, overflow) = n.addingReportingOverflow(i / length)
            if overflow { return nil }
            n = next
            i %= length
            guard n >= initialN, let scalar = Unicode.Scalar(n) else { return nil }
            output.insert(scalar, at: Int(i))
            i += 1
        }
        return output
    }

    /// RFC 3492 §6.1, bias adaptation.
    static func adapt(_ delta: UInt32, _ numPoints: UInt32, firstTime: Bool) -> UInt32 {
        var delta = firstTime ? delta / damp : delta / 2
        delta += delta / numPoints
        var k: UInt32 = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }

    /// `t` for position `k` (clamped to tmin…tmax).
    @inline(__always)
    static func threshold(_ k: UInt32, _ bias: UInt32) -> UInt32 {
        if k <= bias { return tMin }
        if k >= bias + tMax { return tMax }
        return k - bias
    }

    @inline(__always)
    static func digit(_ d: UInt32) -> UInt8 {
        d < 26 ? UInt8(truncatingIfNeeded: d) + UInt8(ascii: "a") : UInt8(truncatingIfNeeded: d - 26) + UInt8(ascii: "0")
    }

    @inline(__always)
    static func digitValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(byte - UInt8(ascii: "a"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(byte - UInt8(ascii: "A"))
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0")) + 26
        default: return nil
        }
    }
}
