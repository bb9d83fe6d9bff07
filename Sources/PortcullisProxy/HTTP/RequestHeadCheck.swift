import NIOHTTP1
import PortcullisPolicy
import PortcullisWire

/// A request head that passed every check: what it asks for, in the one form that is both
/// decided and forwarded (the gateway writes the forwarded head itself from these parts).
struct CheckedRequest {
    enum Form {
        /// `/path?query` (origin-form, RFC 9112 §3.2.1).
        case origin
        /// `http://authority/path?query` (absolute-form, §3.2.2).
        case absolute(Authority)
        /// `host:port` (authority-form, CONNECT only).
        case authority(host: TargetHost, port: UInt16)
    }

    /// How the request's body is framed (RFC 9112 §6): re-framed the same way upstream.
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
    }

    let method: HTTPMethod
    let form: Form
    /// The canonical path (`CanonicalPath`); empty for CONNECT.
    let path: String
    /// The query, without its `?` (forwarded unchanged, never logged), or nil.
    let query: String?
    let framing: Framing
    /// The Host header's value, if any.
    let host: String?
    let version: HTTPVersion

    /// `path?query`, the origin-form the upstream receives.
    var originForm: String { query.map { path + "?" + $0 } ?? path }
}

/// Strict checks on a decoded request head (after NIO's parser, which already refuses most
/// broken syntax): everything a lenient upstream could read otherwise is refused with 400
/// before anything is forwarded (docs/threat-model.md, "Request smuggling").
///
/// - the method is an upper-case token; `PRI` (the HTTP/2 preface) is refused;
/// - HTTP/1.0 or 1.1 only;
/// - the target is origin-form, absolute-form `http://`, or (CONNECT) authority-form, made
///   of RFC 3986 characters only (no `<`, `"`, `{`, `|`, `^`, backtick, space, control or
///   non-ASCII byte), with a canonical path (`CanonicalPath`);
/// - header names are tokens and values hold no control characters but tab, and no bytes
///   that are not UTF-8 (they could not be forwarded as they came);
/// - one Host at most; one Content-Length at most, digits only; Transfer-Encoding only
///   `chunked`, and never beside a Content-Length.
enum RequestHeadCheck {
    struct Refusal: Error, Hashable {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// The largest Content-Length accepted (the body is streamed, never buffered).
    static let maxContentLength = 1 << 50

    /// `http2`: the head came from an HTTP/2 stream (version 2.0 is then the one accepted).
    static func check(_ head: HTTPRequestHead, http2: Bool = false) -> Result<CheckedRequest, Refusal> {
        var memo: AuthorityMemo?
        return check(head, http2: http2, authorities: &memo)
    }

    /// As above; `authorities`: the connection's last absolute-form authority (`AuthorityMemo`).
    static func check(_ head: HTTPRequestHead, http2: Bool = false,
                      authorities: inout AuthorityMemo?) -> Result<CheckedRequest, Refusal> {
        let method = head.method.rawValue
        guard !method.isEmpty, method.utf8.count <= 32,
              method.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { return .failure(Refusal("the method \(Escape.quoted(method)) is not an upper-case token")) }
        guard method != "PRI" else { return .failure(Refusal("HTTP/2 prior knowledge (PRI) is not accepted here")) }
        guard http2 ? head.version.major == 2 : (head.version.major == 1 && head.version.minor <= 1) else {
            return .failure(Refusal("HTTP/\(head.version.major).\(head.version.minor) is not accepted; use HTTP/1.1"))
        }
        var host: String?
        var length: Int?
        var chunked = false
        for (name, value) in head.headers {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                return .failure(Refusal("a header name that is not a token"))
            }
            var beyondASCII = false
            guard value.utf8.allSatisfy({ byte in
                beyondASCII = beyondASCII || byte >= 0x80
                return byte == 9 || (byte >= 32 && byte != 127)
            }) else {
                return .failure(Refusal("control characters in the value of \(Escape.quoted(name))"))
            }
            // Bytes that are not UTF-8 became U+FFFD when the value was decoded: what would
            // go upstream is not what was sent, so the request is refused instead.
            if beyondASCII, value.unicodeScalars.contains("\u{FFFD}") {
                return .failure(Refusal("bytes that are not UTF-8 in the value of \(Escape.quoted(name))"))
            }
            // Names compared in place, case-insensitively (no lower-cased copy per header).
            if name.equalsASCIIIgnoringCase("host") {
                guard host == nil else { return .failure(Refusal("several Host headers")) }
                host = value
            } else if name.equalsASCIIIgnoringCase("content-length") {
                guard length == nil else { return .failure(Refusal("several Content-Length headers")) }
                guard !value.isEmpty, value.utf8.count <= 16, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                      let n = Int(value), n <= maxContentLength
                else { return .failure(Refusal("an unusable Content-Length")) }
                length = n
            } else if name.equalsASCIIIgnoringCase("transfer-encoding") {
                guard !chunked, Substring(value).trimmingSpaces().equalsASCIIIgnoringCase("chunked") else {
                    return .failure(Refusal("a Transfer-Encoding other than one chunked coding"))
                }
                chunked = true
            }
        }
        if chunked, length != nil { return .failure(Refusal("both Content-Length and Transfer-Encoding")) }
        let framing: CheckedRequest.Framing = chunked ? .chunked : length.map { $0 > 0 ? .length($0) : .none } ?? .none

        let uri = head.uri
        guard !uri.isEmpty, uri.utf8.count <= 16 * 1024, uri.utf8.allSatisfy(isTargetByte) else {
            return .failure(Refusal("the request target has characters outside RFC 3986"))
        }
        if head.method == .CONNECT {
            guard let target = try? ConnectTarget.parse(uri) else {
                return .failure(Refusal("CONNECT needs host:port"))
            }
            return .success(CheckedRequest(method: head.method, form: .authority(host: target.host, port: target.port),
                                           path: "", query: nil, framing: framing, host: host, version: head.version))
        }
        var form = CheckedRequest.Form.origin
        var pathAndQuery = Substring(uri)
        if uri.utf8.first != UInt8(ascii: "/") {
            guard let absolute = try? AbsoluteTarget.parse(uri, memo: &authorities) else {
                return .failure(Refusal("the request target is neither /path nor http://host/path"))
            }
            form = .absolute(absolute.authority)
            pathAndQuery = Substring(absolute.originForm)
        }
        var query: String?
        var path = pathAndQuery
        if let q = pathAndQuery.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = pathAndQuery[..<q]
            query = String(pathAndQuery[pathAndQuery.utf8.index(after: q)...])
        }
        switch CanonicalPath.canonicalize(path) {
        case .success(let canonical):
            return .success(CheckedRequest(method: head.method, form: form, path: canonical, query: query, framing: framing,
                                           host: host, version: head.version))
        case .failure(let refusal):
            return .failure(Refusal(refusal.message))
        }
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// RFC 3986 characters of a request target (unreserved, reserved but `#`, and `%`).
    static func isTargetByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"):
            return true
        case UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "@"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }
}
