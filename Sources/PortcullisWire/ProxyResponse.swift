import NIOCore
import PortcullisPolicy

/// A response the gateway itself gives a proxy client (rejections and failures): a status,
/// a few headers and a one-line plain-text body. Kept free of NIOHTTP1 so it can be tested
/// and serialised on NIOCore alone; the proxy converts it to an `HTTPResponseHead`.
public struct ProxyResponse: Hashable, Sendable {
    public var status: Int
    public var reasonPhrase: String
    public var headers: [(String, String)]
    public var body: String

    public init(status: Int, reasonPhrase: String, headers: [(String, String)] = [], body: String) {
        self.status = status
        self.reasonPhrase = reasonPhrase
        self.headers = headers
        self.body = body
    }

    public static func == (l: ProxyResponse, r: ProxyResponse) -> Bool {
        l.status == r.status && l.reasonPhrase == r.reasonPhrase && l.body == r.body
            && l.headers.map { $0.0 + ":" + $0.1 } == r.headers.map { $0.0 + ":" + $0.1 }
    }

    public func hash(into h: inout Hasher) {
        h.combine(status)
        h.combine(body)
    }

    /// The headers to send, with the framing and connection headers every such response carries.
    public var allHeaders: [(String, String)] {
        headers + [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", String(body.utf8.count + 1)),
                   ("Connection", "close")]
    }

    /// HTTP/1.1 wire form (body followed by one newline).
    public func serialize(into buffer: inout ByteBuffer) {
        buffer.writeString("HTTP/1.1 \(status) \(reasonPhrase)\r\n")
        for (name, value) in allHeaders { buffer.writeString("\(name): \(value)\r\n") }
        buffer.writeString("\r\n")
        buffer.writeString(body)
        buffer.writeString("\n")
    }

    /// `403 Forbidden` for a rejection (POLICY-MODEL.md, "What a rejected client sees"):
    /// names the host, the rule id or reason, and for default-deny the pending queue;
    /// `X-Portcullis-Reason` carries `rejected_by`.
    public static func forbidden(host: String, port: UInt16?, rejectedBy: String, ruleID: String?, reason: String,
                                 sandboxID: String?, joinsPending: Bool) -> ProxyResponse {
        let hostPort = Escape.escaped(host, limit: 255) + (port.map { ":\($0)" } ?? "")
        var line = "Portcullis blocked \(hostPort): \(oneLine(reason))"
        if let ruleID { line += " [rule \(Escape.escaped(ruleID, limit: 64))]" } else { line += " [\(rejectedBy)]" }
        if joinsPending {
            let queue = sandboxID.map { "/api/v1/sandboxes/\(Escape.escaped($0, limit: 64))/network/pending" }
                ?? "the sandbox's pending queue"
            line += ". It was added to the pending queue (\(queue)); ask an operator to allow it there."
        } else {
            line += "."
        }
        return ProxyResponse(status: 403, reasonPhrase: "Forbidden",
                             headers: [(AuditVocabulary.reasonHeader, headerSafe(rejectedBy))], body: line)
    }

    /// `403 Forbidden` for a rejecting decision.
    public static func forbidden(_ decision: Decision, port: UInt16?, sandboxID: String?) -> ProxyResponse {
        forbidden(host: decision.host.description, port: port, rejectedBy: decision.rejectedBy ?? "rejected",
                  ruleID: decision.ruleID, reason: decision.reason, sandboxID: sandboxID, joinsPending: decision.joinsPending)
    }

    /// `403 Forbidden` for a refusal of the data plane's own (`credential-misuse`,
    /// `credential-required`): the host, the reason, and the reason header.
    public static func refused(host: String, port: UInt16?, rejectedBy: String, reason: String) -> ProxyResponse {
        let hostPort = Escape.escaped(host, limit: 255) + (port.map { ":\($0)" } ?? "")
        return ProxyResponse(status: 403, reasonPhrase: "Forbidden", headers: [(AuditVocabulary.reasonHeader, headerSafe(rejectedBy))],
                             body: "Portcullis blocked \(hostPort): \(oneLine(reason)) [\(rejectedBy)].")
    }

    /// `421 Misdirected Request`: a request on a terminated connection for another host than
    /// the one it was opened for (`authority-mismatch`).
    public static func misdirected(_ decision: Decision, port: UInt16?) -> ProxyResponse {
        let hostPort = Escape.escaped(decision.host.description, limit: 255) + (port.map { ":\($0)" } ?? "")
        return ProxyResponse(status: 421, reasonPhrase: "Misdirected Request",
                             headers: [(AuditVocabulary.reasonHeader, AuditVocabulary.authorityMismatch)],
                             body: "Portcullis: this connection is for \(hostPort) only: \(oneLine(decision.reason)); open a new connection for another host.")
    }

    /// `407 Proxy Authentication Required`: no, wrong or unknown credential.
    public static func proxyAuthenticationRequired() -> ProxyResponse {
        ProxyResponse(status: 407, reasonPhrase: "Proxy Authentication Required",
                      headers: [("Proxy-Authenticate", "Basic realm=\"portcullis\""),
                                (AuditVocabulary.reasonHeader, AuditVocabulary.unauthenticated)],
                      body: "Portcullis needs proxy credentials: user = sandbox id, password = the sandbox's proxy token.")
    }

    /// `429 Too Many Requests`: too many tunnels from one sandbox.
    public static func tooManyRequests(retryAfterSeconds: Int, limit: Int) -> ProxyResponse {
        ProxyResponse(status: 429, reasonPhrase: "Too Many Requests",
                      headers: [("Retry-After", String(retryAfterSeconds)),
                                (AuditVocabulary.reasonHeader, AuditVocabulary.sandboxConnectionLimit)],
                      body: "Portcullis: this sandbox already has \(limit) open connections; retry later.")
    }

    public static func headersTooLarge(limit: Int) -> ProxyResponse {
        ProxyResponse(status: 431, reasonPhrase: "Request Header Fields Too Large",
                      body: "Portcullis: the request line and headers exceed \(limit) bytes.")
    }

    public static func badRequest(_ message: String) -> ProxyResponse {
        ProxyResponse(status: 400, reasonPhrase: "Bad Request", body: "Portcullis: bad request: \(oneLine(message)).")
    }

    public static func requestTimeout() -> ProxyResponse {
        ProxyResponse(status: 408, reasonPhrase: "Request Timeout", body: "Portcullis: the request head did not arrive in time.")
    }

    public static func badGateway(_ message: String) -> ProxyResponse {
        ProxyResponse(status: 502, reasonPhrase: "Bad Gateway", body: "Portcullis: \(oneLine(message)).")
    }

    public static func gatewayTimeout(_ message: String) -> ProxyResponse {
        ProxyResponse(status: 504, reasonPhrase: "Gateway Timeout", body: "Portcullis: \(oneLine(message)).")
    }

    public static func serviceUnavailable(_ message: String) -> ProxyResponse {
        ProxyResponse(status: 503, reasonPhrase: "Service Unavailable", headers: [("Retry-After", "1")],
                      body: "Portcullis: \(oneLine(message)).")
    }

    /// Control characters (CR/LF above all) never reach a body line.
    static func oneLine(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    }

    /// A header value: printable ASCII only.
    static func headerSafe(_ text: String) -> String {
        String(text.unicodeScalars.prefix(256).map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }
}
