import NIOCore
import PortcullisPolicy
import PortcullisWire

/// What a redirected connection's first client bytes claim about its destination, as a
/// plain state-free function of the bytes held so far (peek, never consume: STYLE.md §8).
///
/// - A TLS ClientHello claims its SNI (none: no claim).
/// - A plain HTTP/1.x request claims its Host header (none: no claim) and makes its
///   method and path visible, so endpoint rules apply to it.
/// - Anything else (SSH, a database protocol, …) is opaque: no claim.
/// - A broken TLS record, an unusable SNI or Host, several Host headers, or more than
///   `maxHeldBytes` without a verdict are refused.
///
/// Whether a claim is consistent with the address dialled is the handler's business
/// (`TransparentHandler`); this only reads.
struct TransparentPeek {
    enum Action: Equatable {
        case waitForMore
        /// Neither TLS nor HTTP: decided on what the address is attributed to.
        case opaque
        /// `host` is the SNI or Host (nil when the hello or request named none).
        case claim(host: TargetHost?, request: RequestVisibility, sni: String?)
        case inconsistent(Inconsistency, sni: String?)
        case malformed(String)
    }

    let maxHeldBytes: Int

    func evaluate(_ held: ByteBuffer) -> Action {
        switch ClientHelloPeeker.peek(held) {
        case .needMoreBytes:
            return held.readableBytes > maxHeldBytes ? .malformed("ClientHello larger than \(maxHeldBytes) bytes") : .waitForMore
        case .malformed:
            return .malformed("the first bytes are a malformed TLS ClientHello")
        case .clientHello(let sni):
            guard let sni else { return .claim(host: nil, request: .opaque, sni: nil) }
            guard let host = try? HostParser.parseTarget(sni) else {
                return .inconsistent(.sniMismatch(sni: sni), sni: sni)
            }
            return .claim(host: host, request: .opaque, sni: sni)
        case .notTLS:
            switch PlainHTTPPeeker.peek(held, maxHeadBytes: maxHeldBytes) {
            case .needMoreBytes:
                return held.readableBytes > maxHeldBytes ? .malformed("HTTP head larger than \(maxHeldBytes) bytes") : .waitForMore
            case .notHTTP:
                return .opaque
            case .tooLarge:
                return .malformed("HTTP head larger than \(maxHeldBytes) bytes")
            case .request(let hostHeader, let count):
                guard count <= 1 else { return .inconsistent(.hostMismatch(other: hostHeader ?? ""), sni: nil) }
                guard let line = Self.requestLine(held) else { return .malformed("unusable HTTP request line") }
                guard let hostHeader else { return .claim(host: nil, request: .visible(line), sni: nil) }
                guard let authority = try? Authority.parse(Substring(hostHeader)) else {
                    return .inconsistent(.hostMismatch(other: hostHeader), sni: nil)
                }
                return .claim(host: authority.host, request: .visible(line), sni: nil)
            }
        }
    }

    /// Method and path of the request line `METHOD SP target SP HTTP/1.x` (already
    /// recognised by `PlainHTTPPeeker`). An absolute-form target gives its path; any
    /// other non-origin form is kept as sent, which no path pattern covers.
    static func requestLine(_ held: ByteBuffer) -> RequestLine? {
        let view = held.readableBytesView
        guard let end = view.firstIndex(of: 13) else { return nil }
        let parts = view[view.startIndex..<end].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let method = String(decoding: parts[0], as: UTF8.self)
        return RequestLine(method: method, path: originPath(String(decoding: parts[1], as: UTF8.self)))
    }

    /// The path of a request target: origin-form as sent; absolute-form's path part.
    static func originPath(_ target: String) -> String {
        guard !target.hasPrefix("/"), let scheme = target.firstRange(of: "://") else { return target }
        let rest = target[scheme.upperBound...]
        return rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
    }
}
