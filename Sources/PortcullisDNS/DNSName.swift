import PortcullisPolicy

/// A domain name as it travels: labels of 1–63 bytes, at most 255 bytes in wire form
/// (RFC 1035 §2.3.4). Kept uncompressed, in the case the client sent (RFC 4343: compared
/// without regard to ASCII case, echoed as received).
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    public static let maxWireLength = 255
    public static let maxLabelLength = 63

    /// Uncompressed wire form: length-prefixed labels ending in the root's zero byte.
    public let wire: [UInt8]

    /// The root name, `.`.
    public static let root = DNSName(uncheckedWire: [0])

    init(uncheckedWire: [UInt8]) { self.wire = uncheckedWire }

    /// A name from dotted text (`api.example.test`, trailing dot optional); nil when a label
    /// is empty or too long, or the name too long.
    public init?(_ text: String) {
        var wire: [UInt8] = []
        let trimmed = text.hasSuffix(".") ? Substring(text.dropLast()) : Substring(text)
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                let bytes = Array(label.utf8)
                guard !bytes.isEmpty, bytes.count <= DNSName.maxLabelLength else { return nil }
                wire.append(UInt8(bytes.count))
                wire += bytes
            }
        }
        wire.append(0)
        guard wire.count <= DNSName.maxWireLength else { return nil }
        self.wire = wire
    }

    /// The name for a policy decision.
    public init(_ name: DomainName) {
        // A canonical DomainName is ASCII with labels that fit; fall back to root if not.
        self = DNSName(name.text) ?? .root
    }

    /// The labels, without the root.
    public var labels: [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var i = 0
        while i < wire.count, wire[i] != 0 {
            let n = Int(wire[i])
            out.append(wire[(i + 1)..<(i + 1 + n)])
            i += 1 + n
        }
        return out
    }

    /// The wire form lowercased (ASCII only): the key for comparisons and the cache.
    public var key: [UInt8] {
        wire.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }
    }

    /// Case-insensitive equality (RFC 4343).
    public func matches(_ other: DNSName) -> Bool {
        guard wire.count == other.wire.count else { return false }
        for (a, b) in zip(wire, other.wire) where a != b {
            let la = (a >= 0x41 && a <= 0x5A) ? a | 0x20 : a
            let lb = (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
            if la != lb { return false }
        }
        return true
    }

    /// Dotted text for logs, `.` for the root; bytes outside printable ASCII and dots
    /// inside labels escaped as `\DDD` (RFC 4343 §2.1).
    public var description: String {
        let labels = self.labels
        guard !labels.isEmpty else { return "." }
        var out = ""
        for (n, label) in labels.enumerated() {
            if n > 0 { out += "." }
            for byte in label {
                if byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "."), byte != UInt8(ascii: "\\") {
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    let digits = String(byte)
                    out += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
        }
        return out
    }

    /// The name as a policy host, or nil when it is not a host name the policy can judge
    /// (the root, escaped bytes, an IP literal spelled as a name).
    public var domainName: DomainName? {
        guard wire.count > 1 else { return nil }
        for label in labels {
            for byte in label where byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "\\") {
                return nil
            }
        }
        guard case .name(let name)? = try? HostParser.parseTarget(description) else { return nil }
        return name
    }
}
