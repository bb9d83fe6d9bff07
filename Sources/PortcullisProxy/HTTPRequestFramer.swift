import NIOCore
import PortcullisPolicy

/// Follows the request framing of a plain HTTP/1.x client stream (RFC 9112 §6): finds each
/// request head, then skips its body by `Content-Length` or chunked coding, so that every
/// later request on a kept-alive transparent connection can be checked like the first.
///
/// A plain struct fed with bytes; it never holds more than one head (bounded by
/// `maxHeadBytes`) or one chunk-size line. After a `CONNECT` or an `Upgrade` request the
/// stream is no longer HTTP: the framer stops (`isOpaque`). Anything it cannot follow —
/// a broken request line, both `Content-Length` and `Transfer-Encoding`, a transfer coding
/// other than chunked last, a bad chunk size — is `.malformed` (the caller closes: a
/// request smuggled past the check must not be possible).
struct HTTPRequestFramer {
    struct Head: Equatable {
        var line: RequestLine
        /// The Host header's value (nil when absent); `hostCount` > 1 is refused by the caller.
        var host: String?
        var hostCount: Int
    }

    enum Event: Equatable {
        case head(Head)
        case malformed(String)
    }

    enum State {
        case head
        case body(Int)
        case chunkSize
        case chunkData(Int)
        /// The CRLF after a chunk's data: how many of its two bytes are still due.
        case chunkEnd(Int)
        case trailer
        case opaque
        case failed
    }

    static let maxChunkLine = 1024

    let maxHeadBytes: Int
    private var state: State = .head
    private var line: [UInt8] = []

    init(maxHeadBytes: Int) { self.maxHeadBytes = maxHeadBytes }

    /// True once the stream stopped being HTTP (CONNECT, Upgrade) or failed.
    var isOpaque: Bool {
        switch state {
        case .opaque, .failed: return true
        case .head, .body, .chunkSize, .chunkData, .chunkEnd, .trailer: return false
        }
    }

    mutating func feed(_ view: ByteBufferView) -> [Event] {
        var events: [Event] = []
        var i = view.startIndex
        while i < view.endIndex {
            switch state {
            case .opaque, .failed:
                return events
            case .body(let n):
                let take = min(n, view.endIndex - i)
                i += take
                state = n == take ? .head : .body(n - take)
            case .chunkData(let n):
                let take = min(n, view.endIndex - i)
                i += take
                state = n == take ? .chunkEnd(2) : .chunkData(n - take)
            case .chunkEnd(let due):
                let b = view[i]
                i += 1
                guard b == (due == 2 ? 13 : 10) else { return fail("chunk data not followed by CRLF", &events) }
                state = due == 2 ? .chunkEnd(1) : .chunkSize
            case .head:
                let b = view[i]
                i += 1
                // Empty lines before a request line are ignored (RFC 9112 §2.2).
                if line.isEmpty, b == 13 || b == 10 { continue }
                line.append(b)
                guard line.count <= maxHeadBytes else { return fail("HTTP head larger than \(maxHeadBytes) bytes", &events) }
                if b == 10, line.count >= 4, line[line.count - 4] == 13, line[line.count - 3] == 10,
                   line[line.count - 2] == 13 {
                    guard let (head, next) = Self.parseHead(line) else { return fail("unusable HTTP request head", &events) }
                    line = []
                    events.append(.head(head))
                    state = next
                }
            case .chunkSize:
                let b = view[i]
                i += 1
                line.append(b)
                guard line.count <= Self.maxChunkLine else { return fail("chunk-size line too long", &events) }
                if b == 10 {
                    guard let size = Self.chunkSize(line) else { return fail("bad chunk size", &events) }
                    line = []
                    state = size == 0 ? .trailer : .chunkData(size)
                }
            case .trailer:
                let b = view[i]
                i += 1
                line.append(b)
                guard line.count <= maxHeadBytes else { return fail("chunked trailer too large", &events) }
                if b == 10, line == [13, 10] || (line.count >= 4 && Array(line.suffix(4)) == [13, 10, 13, 10]) {
                    line = []
                    state = .head
                }
            }
        }
        return events
    }

    private mutating func fail(_ message: String, _ events: inout [Event]) -> [Event] {
        state = .failed
        line = []
        events.append(.malformed(message))
        return events
    }

    /// The head's request line and the framing of what follows it.
    static func parseHead(_ bytes: [UInt8]) -> (Head, State)? {
        let text = String(decoding: bytes, as: UTF8.self)
        // "\r\n" is one Character (one grapheme cluster) in Swift.
        var lines = text.split(separator: "\r\n" as Character, omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 2 else { return nil }
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }),
              parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0"
        else { return nil }
        var host: String?
        var hostCount = 0
        var contentLength: Int?
        var transferEncoding: String?
        var upgrade = false
        for header in lines where !header.isEmpty {
            guard let colon = header.firstIndex(of: ":") else { return nil }
            let name = header[..<colon].lowercased()
            let value = header[header.index(after: colon)...].trimmedOfSpaces()
            switch name {
            case "host":
                hostCount += 1
                host = value
            case "content-length":
                guard let n = Int(value), n >= 0, contentLength == nil || contentLength == n else { return nil }
                contentLength = n
            case "transfer-encoding":
                transferEncoding = (transferEncoding.map { $0 + "," } ?? "") + value.lowercased()
            case "upgrade":
                upgrade = true
            default:
                break
            }
        }
        let method = String(parts[0])
        let path = TransparentPeek.originPath(String(parts[1]))
        let head = Head(line: RequestLine(method: method, path: path), host: host, hostCount: hostCount)
        if method == "CONNECT" || upgrade { return (head, .opaque) }
        if let transferEncoding {
            guard contentLength == nil,
                  transferEncoding.split(separator: ",").last?.trimmedOfSpaces() == "chunked"
            else { return nil }
            return (head, .chunkSize)
        }
        if let contentLength, contentLength > 0 { return (head, .body(contentLength)) }
        return (head, .head)
    }

    /// The size of a `chunk-size [; ext] CRLF` line, bounded.
    static func chunkSize(_ line: [UInt8]) -> Int? {
        guard line.count >= 3, line[line.count - 2] == 13 else { return nil }
        var size = 0
        var digits = 0
        for b in line.dropLast(2) {
            let v: Int
            switch b {
            case 48...57: v = Int(b) - 48
            case 65...70: v = Int(b) - 55
            case 97...102: v = Int(b) - 87
            case 59, 32, 9: return digits > 0 ? size : nil  // extensions (and spaces before them) are skipped
            default: return nil
            }
            digits += 1
            guard digits <= 15 else { return nil }
            size = size * 16 + v
        }
        return digits > 0 ? size : nil
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmedOfSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
