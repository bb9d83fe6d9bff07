/// Host names and wildcards.
///
/// RFC 1035 §2.3.4 and RFC 2181 §11: labels of 1–63 octets, a name of at most 255
/// octets on the wire, i.e. 253 characters of text without the trailing dot. RFC 952 /
/// RFC 1123 §2.1 host names use letters, digits and hyphens, a hyphen neither first nor
/// last; we also accept `_` (SRV and service names such as `_dmarc.example.com`).
/// RFC 5890 §2.3.2.1: an A-label is `xn--` followed by the Punycode of a U-label, and
/// must decode to one.
extension HostParser {
    static let maxNameLength = 253
    static let maxLabelLength = 63

    /// Parses a name (or `*.name` in patterns) that is not an IP literal. `b` holds ASCII,
    /// or the Unicode pre-pass output when `shape.nonASCII`.
    static func parseName(
        _ b: UnsafeBufferPointer<UInt8>, original: String, text: String, _ mode: Mode, shape: Shape
    ) throws(HostError) -> HostPattern {
        var end = b.count
        if b[end - 1] == IPv4Text.dot { end -= 1 }
        if end == 0 { throw .emptyLabel(original) }

        var start = 0
        if shape.star {
            switch mode {
            case .target, .network, .address: throw .wildcardNotAllowed(original)
            case .pattern: break
            }
            if end == 1 { throw .bareWildcard(original) }
            guard b[0] == UInt8(ascii: "*"), b[1] == IPv4Text.dot,
                  !(2..<end).contains(where: { b[$0] == UInt8(ascii: "*") })
            else { throw .misplacedWildcard(original) }
            start = 2
            if start == end { throw .emptyLabel(original) }
        }

        // The fast path: lower-case ASCII that is already canonical is used as is.
        let needsCopy = shape.upperCase || shape.nonASCII || start > 0 || end < b.count
        var out: [UInt8] = []
        if needsCopy { out.reserveCapacity(end - start + 8) }

        var labelStart = start
        while labelStart <= end {
            var labelEnd = labelStart
            var asciiOnly = true
            while labelEnd < end, b[labelEnd] != IPv4Text.dot {
                if b[labelEnd] >= 0x80 { asciiOnly = false }
                labelEnd += 1
            }
            if labelEnd == labelStart { throw .emptyLabel(original) }
            if labelStart > start, needsCopy { out.append(IPv4Text.dot) }
            if asciiOnly {
                try checkASCIILabel(b, labelStart..<labelEnd, original)
                if needsCopy {
                    for i in labelStart..<labelEnd { out.append(lowerASCII(b[i])) }
                }
            } else {
                let label = String(decoding: UnsafeBufferPointer(rebasing: b[labelStart..<labelEnd]), as: UTF8.self)
                out.append(contentsOf: try aLabel(for: label, original).utf8)
            }
            labelStart = labelEnd + 1
        }

        let name: String
        if needsCopy {
            name = String(decoding: out, as: UTF8.self)
        } else {
            name = text
        }
        let length = name.utf8.count
        let limit = start > 0 ? maxNameLength - 2 : maxNameLength
        if length > limit { throw .nameTooLong(original, length: length + (start > 0 ? 2 : 0), limit: maxNameLength) }

        let domain = DomainName(canonical: name)
        guard start > 0 else { return .exact(domain) }
        if PublicSuffixList.shipped.isListedPublicSuffix(domain, icannOnly: true) {
            throw .wildcardOverPublicSuffix(original, suffix: name)
        }
        return .wildcard(domain)
    }

    /// Letters (either case), digits, `-` and `_`; no hyphen first or last; 1–63
    /// characters; an `xn--` label must be a valid A-label.
    static func checkASCIILabel(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ original: String) throws(HostError) {
        for i in range {
            let c = b[i]
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                continue
            default:
                throw .invalidCharacter(original, String(Character(Unicode.Scalar(c))))
            }
        }
        if b[range.lowerBound] == UInt8(ascii: "-") || b[range.upperBound - 1] == UInt8(ascii: "-") {
            throw .hyphen(original)
        }
        if range.count > maxLabelLength { throw .labelTooLong(original, length: range.count) }
        if range.count >= 4, lowerASCII(b[range.lowerBound]) == UInt8(ascii: "x"),
           lowerASCII(b[range.lowerBound + 1]) == UInt8(ascii: "n"),
           b[range.lowerBound + 2] == UInt8(ascii: "-"), b[range.lowerBound + 3] == UInt8(ascii: "-") {
            var body = ""
            body.reserveCapacity(range.count - 4)
            for i in range.lowerBound + 4..<range.upperBound { body.unicodeScalars.append(Unicode.Scalar(lowerASCII(b[i]))) }
            try checkALabel(body, original)
        }
    }

    /// An existing `xn--` label: it must decode, hold at least one non-ASCII code point,
    /// pass the same checks as a typed U-label, and be exactly what we would encode.
    static func checkALabel(_ body: String, _ original: String) throws(HostError) {
        guard let scalars = Punycode.decode(body), scalars.contains(where: { $0.value >= 0x80 }) else {
            throw .invalidIDN(original)
        }
        var unicode = String.UnicodeScalarView()
        unicode.append(contentsOf: scalars)
        let label = String(unicode)
        let canonical = String(decoding: label.lowercased()._nfcCodeUnits, as: UTF8.self)
        guard canonical.unicodeScalars.elementsEqual(scalars), (try? uLabelScalars(label, original)) != nil,
              Punycode.encode(scalars) == body
        else { throw .invalidIDN(original) }
    }

    /// The A-label (`xn--…`) for a label holding non-ASCII characters (already lower-cased
    /// and in NFC by the pre-pass).
    static func aLabel(for label: String, _ original: String) throws(HostError) -> String {
        let scalars = try uLabelScalars(label, original)
        guard let encoded = Punycode.encode(scalars) else { throw .invalidIDN(original) }
        let result = "xn--" + encoded
        if result.utf8.count > maxLabelLength { throw .labelTooLong(original, length: result.utf8.count) }
        return result
    }

    /// The code points of a U-label, checked: ASCII letters, digits, `-`; non-ASCII
    /// letters, marks and digits; not starting with a mark; no hyphen first or last.
    static func uLabelScalars(_ label: String, _ original: String) throws(HostError) -> [Unicode.Scalar] {
        let scalars = Array(label.unicodeScalars)
        for scalar in scalars {
            switch scalar.value {
            case 0x61...0x7A, 0x30...0x39, 0x2D:
                continue
            case 0x00...0x7F:
                throw .invalidCharacter(original, String(Character(scalar)))
            default:
                guard isLabelScalar(scalar) else { throw .invalidCharacter(original, String(Character(scalar))) }
            }
        }
        guard let first = scalars.first, let last = scalars.last else { throw .emptyLabel(original) }
        if first == "-" || last == "-" { throw .hyphen(original) }
        if isMark(first) { throw .invalidIDN(original) }
        return scalars
    }

    @inline(__always)
    static func lowerASCII(_ c: UInt8) -> UInt8 {
        c &- UInt8(ascii: "A") < 26 ? c | 0x20 : c
    }
}
