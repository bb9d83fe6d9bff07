import NIOHTTP1
import PortcullisWire

extension HTTPHeaders {
    /// The hop-by-hop fields (RFC 9110 §7.6.1) plus the proxy's own, never forwarded.
    static let hopByHop: Set<String> = [
        "connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade",
        "proxy-authorization", "proxy-authenticate", "trailer",
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

    /// The field names the `Connection` header lists (lower-cased): hop-by-hop too.
    func connectionListed() -> Set<String> {
        var listed = Set<String>()
        for value in self["connection"] {
            for token in value.split(separator: ",") {
                listed.insert(token.trimmingCharacters().lowercased())
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
    func trimmingCharacters() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
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
