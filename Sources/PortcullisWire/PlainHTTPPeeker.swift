import NIOCore

/// What the first bytes of a tunnel are, as far as plain HTTP/1.x is concerned.
public enum PlainHTTPPeek: Hashable, Sendable {
    case needMoreBytes
    /// Not an HTTP/1.x request line.
    case notHTTP
    /// An HTTP request head; `host` is its Host header (nil when it has none).
    /// `hostCount` > 1 means several Host headers, which is refused.
    case request(host: String?, hostCount: Int)
    /// An HTTP request line whose head is longer than the limit.
    case tooLarge
}

/// Peeks at plain HTTP inside a tunnel, on a copy of the buffer, to check its Host
/// (POLICY-MODEL.md: "plain HTTP inside a tunnel names another Host" is rejected).
public enum PlainHTTPPeeker {
    public static let maxHeadBytes = 16 * 1024

    public static func peek(_ buffer: ByteBuffer, maxHeadBytes: Int = PlainHTTPPeeker.maxHeadBytes) -> PlainHTTPPeek {
        let view = buffer.readableBytesView
        // Method token: 1–20 upper-case letters, then a space.
        var i = view.startIndex
        var methodLength = 0
        while i < view.endIndex, methodLength <= 20 {
            let c = view[i]
            if c == UInt8(ascii: " ") { break }
            guard c >= UInt8(ascii: "A"), c <= UInt8(ascii: "Z") else { return .notHTTP }
            methodLength += 1
            i += 1
        }
        if i == view.endIndex { return methodLength <= 20 ? .needMoreBytes : .notHTTP }
        guard methodLength > 0, methodLength <= 20 else { return .notHTTP }
        // Request line must end with " HTTP/1.x\r\n".
        guard let lineEnd = find(view, [13, 10], from: view.startIndex) else {
            return view.count > maxHeadBytes ? .tooLarge : .needMoreBytes
        }
        let line = view[view.startIndex..<lineEnd]
        guard line.count >= 10 else { return .notHTTP }
        let tail = Array(line.suffix(9))
        guard tail[0] == UInt8(ascii: " "), Array(tail[1...6]) == Array("HTTP/1".utf8), tail[7] == UInt8(ascii: ".") else {
            return .notHTTP
        }
        guard let headEnd = find(view, [13, 10, 13, 10], from: lineEnd) else {
            return view.count > maxHeadBytes ? .tooLarge : .needMoreBytes
        }
        if headEnd - view.startIndex > maxHeadBytes { return .tooLarge }
        var host: String?
        var count = 0
        var lineStart = lineEnd + 2
        while lineStart < headEnd + 2 {
            guard let end = find(view, [13, 10], from: lineStart) else { break }
            let header = view[lineStart..<end]
            if let colon = header.firstIndex(of: UInt8(ascii: ":")) {
                let name = String(decoding: header[header.startIndex..<colon], as: UTF8.self)
                if name.lowercased() == "host" {
                    count += 1
                    host = String(String(decoding: header[(colon + 1)...], as: UTF8.self).trimmingSpacesString())
                }
            }
            lineStart = end + 2
        }
        return .request(host: host, hostCount: count)
    }

    static func find(_ view: ByteBufferView, _ needle: [UInt8], from start: Int) -> Int? {
        guard view.endIndex - start >= needle.count else { return nil }
        var i = start
        while i <= view.endIndex - needle.count {
            if view[i] == needle[0] {
                var match = true
                for j in 1..<needle.count where view[i + j] != needle[j] {
                    match = false
                    break
                }
                if match { return i }
            }
            i += 1
        }
        return nil
    }
}

extension String {
    func trimmingSpacesString() -> Substring { Substring(self).trimmingSpaces() }
}
