import NIOCore
import NIOHTTP1
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

extension HTTPStreamHandler {
    // MARK: - Credentials

    /// Runs the credential gate on an allowed request: injects (the exchange remembers the
    /// headers and query to send, and scrubs the response), or refuses a misuse or a missing
    /// required placeholder with 403 and nothing sent. Returns whether the request goes on.
    func applyCredentials(_ exchange: Exchange, host: TargetHost, port: UInt16, terminated: Bool,
                          _ context: ChannelHandlerContext) -> Bool {
        let outcome = CredentialGate.check(headers: exchange.headers, path: exchange.request.path, query: exchange.request.query,
                                           method: exchange.request.method.rawValue, host: host, port: port,
                                           terminated: terminated, plan: exchange.sandbox.scrubPlan)
        switch outcome {
        case .pass:
            return true
        case .inject(let values, let query, let names):
            exchange.injected = (values, query, names)
            exchange.record.credential = names.count == 1 ? names[0] : names.joined(separator: ",")
            exchange.scrubber = exchange.sandbox.scrubPlan.scrubber(for: names)
            return true
        case .misuse(let why):
            refuseCredential(exchange, AuditVocabulary.credentialMisuse, why, context)
            return false
        case .required(let name):
            refuseCredential(exchange, AuditVocabulary.credentialRequired,
                             "credential \(name) is required for this request, and it carries no placeholder", context)
            return false
        }
    }

    func refuseCredential(_ exchange: Exchange, _ rejectedBy: String, _ why: String, _ context: ChannelHandlerContext) {
        releaseSlot(exchange)
        exchange.record.refuse(.reject, rejectedBy, reason: why)
        let response = ProxyResponse.refused(host: exchange.target.host.description, port: exchange.target.port,
                                             rejectedBy: rejectedBy, reason: why)
        refuse(response, exchange: exchange, close: !exchange.keepAlive, context)
    }

    // MARK: - Credentials in bodies and responses

    /// Whether the body parts already here (buffered while connecting, or queued) hold a
    /// placeholder.
    func arrivedBodyCarriesPlaceholder(_ exchange: Exchange) -> Bool {
        // Nothing arrived after the head (a keep-alive GET, read by read): nothing to scan.
        if exchange.buffered.isEmpty && inbound.isEmpty { return false }
        var window: [UInt8] = []
        func scan(_ part: HTTPServerRequestPart) -> Bool? {
            switch part {
            case .head: return nil
            case .body(let bytes): window.append(contentsOf: bytes.readableBytesView)
            case .end: return false
            }
            return window.count >= Placeholders.length && !Placeholders.find(in: window).isEmpty ? true : false
        }
        for part in exchange.buffered { if scan(part) == true { return true } }
        if !exchange.requestComplete {
            for part in inbound {
                guard let found = scan(part) else { break }
                if found { return true }
                if case .end = part { break }
            }
        }
        return !Placeholders.find(in: window).isEmpty
    }

    /// Whether this body chunk (with the end of the previous one) holds a placeholder.
    func bodyCarriesPlaceholder(_ exchange: Exchange, _ bytes: ByteBuffer) -> Bool {
        var window = exchange.bodyTail
        window.append(contentsOf: bytes.readableBytesView)
        if !Placeholders.find(in: window).isEmpty { return true }
        exchange.bodyTail = Array(window.suffix(Placeholders.length - 1))
        return false
    }

    /// A placeholder in a request body: the request is refused; what was already written
    /// upstream is cut off (the upstream connection closes, so it never sees a whole request).
    func credentialInBody(_ exchange: Exchange) {
        guard let context else { return }
        exchange.upstreamChannel?.close(promise: nil)
        exchange.record.refuse(.reject, AuditVocabulary.credentialMisuse, reason: "a placeholder in the request body")
        if exchange.responseStarted { return closeNow(context) }
        let response = ProxyResponse.refused(host: exchange.target.host.description, port: exchange.target.port,
                                             rejectedBy: AuditVocabulary.credentialMisuse, reason: "a placeholder in the request body")
        exchange.record.status = response.status
        finish(exchange)
        state = .closed
        context.write(wrapOutboundOut(.head(response.head(close: true))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body + "\n")))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    /// A response that carried an injected secret gets its own `warn` line (the secret was
    /// replaced by its placeholder before the sandbox saw it).
    func recordReflection(_ exchange: Exchange) {
        guard let names = exchange.scrubber?.reflected, !names.isEmpty else { return }
        var line = exchange.record
        line.refuse(.warn, AuditVocabulary.credentialReflected,
                    reason: "the response carried the secret of credential \(names.sorted().joined(separator: ", ")); "
                        + "the sandbox saw the placeholder instead")
        env.finish(line)
    }
}
