/// The one canonical form of a request path (INSPECTION.md, "Each request on a terminated
/// connection"): the decision input, and the only bytes sent upstream, for plain HTTP and
/// for HTTPS the gateway terminates alike. Rule path patterns are written in it too.
///
/// From the path of an origin-form target (the query cut off by the caller):
/// 1. percent-encodings of unreserved characters (RFC 3986 §2.3) are decoded, every other
///    percent-encoding is written in upper case;
/// 2. dot-segments are removed (RFC 3986 §5.2.4) and `//` collapsed to `/`.
///
/// A path whose meaning an upstream could read differently is refused, never guessed at:
/// an encoded `/` or `\` (`%2F`, `%5C`), a literal `\`, `%00`, a `;` (a segment parameter:
/// `/public/..;/admin`), a `..` that would climb above the root, double encoding (`%25`
/// followed by two hex digits: `%252e`), a malformed percent-encoding, or a byte outside
/// RFC 3986's path characters (spaces, controls, `<>"{}|^` and the backtick, non-ASCII).
///
/// Note to maintainers: the result is a fixed point (`canonicalize(c) == .success(c)` for
/// every canonical `c`), which the property tests check; the engine relies on it.
public enum CanonicalPath {
    /// Why a path was refused; the message names the offending part.
    public struct Refusal: Error, Hashable, Sendable, CustomStringConvertible {
        public let message: String
        init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// The longest path accepted, in bytes.
    public static let maxLength = 8 * 1024

    /// The canonical form of `path` (which must start with `/` and carry no query).
    public static func canonicalize<S: StringProtocol>(_ path: S) -> Result<String, Refusal> {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") else {
            return .failure(Refusal("the request target is not an absolute path (origin-form /…)"))
        }
        guard bytes.count <= maxLength else { return .failure(Refusal("the path is longer than \(maxLength) bytes")) }
        if let plain = plainCanonical(bytes) { return .success(plain) }
        // 1. Decode what must be decoded, refuse what is ambiguous.
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "%"):
                guard i + 2 < bytes.count, let high = hex(bytes[i + 1]), let low = hex(bytes[i + 2]) else {
                    return .failure(Refusal("malformed percent-encoding in the path"))
                }
                let value = high << 4 | low
                switch value {
                case 0x2F: return .failure(Refusal("an encoded slash (%2F) in the path"))
                case 0x5C: return .failure(Refusal("an encoded backslash (%5C) in the path"))
                case 0x00: return .failure(Refusal("an encoded NUL (%00) in the path"))
                default:
                    break
                }
                if isUnreserved(value) {
                    decoded.append(value)
                } else {
                    decoded.append(UInt8(ascii: "%"))
                    decoded.append(upperHex(value >> 4))
                    decoded.append(upperHex(value & 0xF))
                }
                i += 3
                continue
            case UInt8(ascii: "\\"):
                return .failure(Refusal("a backslash in the path"))
            case UInt8(ascii: ";"):
                return .failure(Refusal("a ; (segment parameter) in the path"))
            default:
                guard isPathByte(b) else {
                    return .failure(Refusal("a character outside RFC 3986 in the path (byte 0x\(String(b, radix: 16)))"))
                }
                decoded.append(b)
            }
            i += 1
        }
        // Double encoding, judged on the decoded form (so `%25%41` is caught as well as `%2541`):
        // an upstream that decodes twice would read a different path.
        if decoded.count >= 5 {
            for k in 0...(decoded.count - 5) where decoded[k] == UInt8(ascii: "%") && decoded[k + 1] == UInt8(ascii: "2")
                && decoded[k + 2] == UInt8(ascii: "5") && hex(decoded[k + 3]) != nil && hex(decoded[k + 4]) != nil {
                return .failure(Refusal("double percent-encoding (%25 followed by two hex digits) in the path"))
            }
        }
        // 2. Dot-segments and empty segments.
        var segments: [ArraySlice<UInt8>] = []
        let parts = decoded.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (index, segment) in parts.enumerated() {
            let isLast = index == parts.count - 1
            if segment.elementsEqual([UInt8(ascii: ".")]) {
                if isLast { segments.append([]) }
            } else if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                guard !segments.isEmpty else { return .failure(Refusal("a .. that climbs above the root in the path")) }
                segments.removeLast()
                if isLast { segments.append([]) }
            } else if segment.isEmpty {
                if isLast { segments.append([]) }
            } else {
                segments.append(segment)
            }
        }
        var out: [UInt8] = [UInt8(ascii: "/")]
        out.reserveCapacity(decoded.count)
        for (index, segment) in segments.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "/")) }
            out.append(contentsOf: segment)
        }
        return .success(String(decoding: out, as: UTF8.self))
    }

    /// The common case in one pass: path characters only, no `%`, no `//`, no segment that
    /// starts with `.`: already canonical (nil: take the full path above).
    static func plainCanonical(_ bytes: [UInt8]) -> String? {
        var previous: UInt8 = 0
        for b in bytes {
            guard isPathByte(b), b != UInt8(ascii: "%"), b != UInt8(ascii: ";") else { return nil }
            if previous == UInt8(ascii: "/"), b == UInt8(ascii: "/") || b == UInt8(ascii: ".") { return nil }
            previous = b
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// RFC 3986 `pchar` and `/`: unreserved, sub-delims, `:`, `@`, `%` (checked apart).
    @inlinable
    static func isPathByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            return true
        case UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }

    static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
            || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    static func upperHex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x41 + nibble - 10 }
}
