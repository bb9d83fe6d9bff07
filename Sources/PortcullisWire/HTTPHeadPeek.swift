import NIOCore
import PortcullisPolicy

/// What the first HTTP request head of a redirected connection claims about its host, read
/// leniently (bare LF accepted, header names in any case), so that a Host a strict parser
/// would miss is still seen. It only tells the transparent listener which name to check
/// against the address dialled; the requests themselves are then parsed strictly, decided
/// one by one and re-framed (`HTTPStreamHandler`), and any disagreement is refused there.
public enum HTTPHeadPeek {
    public enum Claim: Hashable, Sendable {
        case needMoreBytes
        case malformed(String)
        /// More than one Host header (refused as `host-mismatch`).
        case severalHosts
        /// The Host header's value (nil without one) and the request line.
        case host(String?, RequestLine)
    }

    public static func hostClaim(_ buffer: ByteBuffer, maxBytes: Int) -> Claim {
        let view = buffer.readableBytesView
        var lines: [ByteBufferView.SubSequence] = []
        var start = view.startIndex
        // Leading empty lines are skipped, as servers do.
        while start < view.endIndex, view[start] == 13 || view[start] == 10 { start += 1 }
        var i = start
        while i < view.endIndex {
            if view[i] == 10 {
                var end = i
                if end > start, view[end - 1] == 13 { end -= 1 }
                if end == start { return finish(lines) }  // the empty line ends the head
                lines.append(view[start..<end])
                start = i + 1
            }
            i += 1
            if i - view.startIndex > maxBytes { return .malformed("the HTTP head is larger than \(maxBytes) bytes") }
        }
        return .needMoreBytes
    }

    private static func finish(_ lines: [ByteBufferView.SubSequence]) -> Claim {
        guard let first = lines.first else { return .malformed("an empty HTTP request") }
        let parts = first.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        guard parts.count >= 2 else { return .malformed("an unusable HTTP request line") }
        let method = String(decoding: parts[0], as: UTF8.self)
        let path = String(decoding: parts[1], as: UTF8.self)
        var host: String?
        var count = 0
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            var name = line[line.startIndex..<colon]
            while let last = name.last, last == 32 || last == 9 { name = name.dropLast() }
            guard name.count == 4, String(decoding: name, as: UTF8.self).lowercased() == "host" else { continue }
            count += 1
            var value = line[(colon + 1)...]
            while let f = value.first, f == 32 || f == 9 { value = value.dropFirst() }
            while let l = value.last, l == 32 || l == 9 { value = value.dropLast() }
            host = String(decoding: value, as: UTF8.self)
        }
        if count > 1 { return .severalHosts }
        return .host(host, RequestLine(method: method, path: originPath(path)))
    }

    /// The path of a request target: origin-form as sent; an absolute-form target's path.
    public static func originPath(_ target: String) -> String {
        guard !target.hasPrefix("/"), let scheme = target.firstRange(of: "://") else { return target }
        let rest = target[scheme.upperBound...]
        return rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
    }
}
