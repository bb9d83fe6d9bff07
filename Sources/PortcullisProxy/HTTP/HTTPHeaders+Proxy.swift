import NIOHTTP1
import PortcullisWire

extension HTTPHeaders {
    /// The hop-by-hop fields (RFC 9110 §7.6.1) plus the proxy's own, never forwarded.
    /// `close` is a connection option, and RFC 9110 reserves it as a field name: a field
    /// named so is dropped whether or not `Connection` lists it.
    static let hopByHop: Set<String> = [
        "connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade",
        "proxy-authorization", "proxy-authenticate", "trailer", "close",
    ]

    /// A copy without hop-by-hop fields, including those the `Connection` header lists.
    func removingHopByHop() -> HTTPHeaders {
        let listed = connectionListed()
        var out = HTTPHeaders()
        for (name, value) in self where !HTTPHeaders.isHopByHop(lowercased: name.lowercased(), listed: listed) {
            out.add(name: name, value: value)
        }
        return out
    }

    /// The field names the `Connection` header lists (lower-cased): hop-by-hop too. Names
    /// already in `hopByHop` are left out (`close`, `keep-alive`: most messages list nothing
    /// else, and then nothing is allocated).
    func connectionListed() -> Set<String> {
        var listed = Set<String>()
        for (name, value) in self where name.utf8.count == 10 && name.equalsASCIIIgnoringCase("connection") {
            var rest = Substring(value)
            while !rest.isEmpty {
                let comma = rest.utf8.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
                let lower = rest[..<comma].trimmingSpaces().lowercased()
                if !lower.isEmpty, !HTTPHeaders.hopByHop.contains(lower) { listed.insert(lower) }
                rest = comma == rest.endIndex ? "" : rest[rest.index(after: comma)...]
            }
        }
        return listed
    }

    /// Whether a field (its name lower-cased) is hop-by-hop: one of `hopByHop`, one the
    /// `Connection` header lists, or any `Proxy-*` field (for the proxy — credentials,
    /// connection — never the origin).
    static func isHopByHop(lowercased name: String, listed: Set<String>) -> Bool {
        hopByHop.contains(name) || listed.contains(name) || name.hasPrefix("proxy-")
    }

    /// Approximate wire size of these headers (`name: value\r\n` each).
    var wireSize: Int { reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } }
}

extension Substring {
    func trimmingCharacters() -> String { String(trimmingSpaces()) }

    /// Without leading and trailing spaces and tabs (no copy).
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}

extension StringProtocol {
    /// Whether this equals `other` with ASCII letters compared case-insensitively (header
    /// names, tokens), byte by byte, without lower-casing either into a new string.
    func equalsASCIIIgnoringCase<Other: StringProtocol>(_ other: Other) -> Bool {
        let contiguous = utf8.withContiguousStorageIfAvailable { a in
            other.utf8.withContiguousStorageIfAvailable { b in
                a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || asciiLower($0) == asciiLower($1) }
            }
        }
        if let contiguous, let equal = contiguous { return equal }
        return utf8.count == other.utf8.count && utf8.elementsEqual(other.utf8) { asciiLower($0) == asciiLower($1) }
    }
}

extension Collection<UInt8> {
    /// As `StringProtocol.equalsASCIIIgnoringCase`, on bytes (contiguous ones compared in place).
    func equalsASCIIIgnoringCase<Other: Collection<UInt8>>(_ other: Other) -> Bool {
        let contiguous = withContiguousStorageIfAvailable { a in
            other.withContiguousStorageIfAvailable { b in
                a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || asciiLower($0) == asciiLower($1) }
            }
        }
        if let contiguous, let equal = contiguous { return equal }
        return count == other.count && elementsEqual(other) { asciiLower($0) == asciiLower($1) }
    }
}

@inline(__always) private func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}

extension ProxyResponse {
    /// The NIOHTTP1 head for this response; `close` says whether the connection ends after it.
    func head(close: Bool) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        for (name, value) in self.headers { headers.add(name: name, value: value) }
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count + 1))
        headers.add(name: "Connection", value: close ? "close" : "keep-alive")
        return HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status, reasonPhrase: reasonPhrase),
                                headers: headers)
    }
}
