import NIOCore
import NIOHTTP1
import PortcullisPolicy

extension HTTPStreamHandler {
    // MARK: - Scrubbed responses

    /// A response to a request that carried a credential: its header values scrubbed (the
    /// fields rebuilt only when one holds a secret). A scrubbed body changes length (a secret
    /// and its placeholder differ in length), so the upstream's `Content-Length` no longer
    /// holds: a body of at most `maxHeldBody` bytes by its `Content-Length` is held whole
    /// and sent with the length of its scrubbed bytes (returns true); any other body is
    /// framed anew (chunked, or DATA frames on h2) without a length. A response without a
    /// body keeps its length.
    func scrubResponseHead(_ headers: inout HTTPHeaders, of head: HTTPResponseHead, _ exchange: Exchange) -> Bool {
        guard var scrubber = exchange.scrubber else { return false }
        // One pass over the fields: whether a value holds a secret, and the body's length.
        var holdsSecret = false
        var lengths = 0
        var length: Int?
        for (name, value) in headers {
            if !holdsSecret && scrubber.occurs(in: value) { holdsSecret = true }
            if name.utf8.count == 14 && name.equalsASCIIIgnoringCase("content-length") {
                lengths += 1
                length = Int(Substring(value).trimmingCharacters())
            }
        }
        if holdsSecret {
            var scrubbed = HTTPHeaders()
            for (name, value) in headers { scrubbed.add(name: name, value: scrubber.scrub(text: value)) }
            headers = scrubbed
            exchange.scrubber = scrubber
        }
        guard exchange.request.method != .HEAD && head.status.mayHaveResponseBody else { return false }
        if lengths > 0 { headers.remove(name: "Content-Length") }
        guard lengths == 1, let n = length, n >= 0 else { return false }
        return n <= Self.maxHeldBody
    }

    /// The `Content-Encoding` of a response whose body the scrubber could not read (any
    /// coding but `identity`; the gateway asked for `identity`), or nil: a response that
    /// has no body (to HEAD, 1xx, 204, 304) or an unencoded one.
    static func unscrubbableEncoding(_ head: HTTPResponseHead, request method: HTTPMethod) -> String? {
        guard method != .HEAD && head.status.mayHaveResponseBody else { return nil }
        for value in head.headers["content-encoding"] {
            var rest = Substring(value)
            while !rest.isEmpty {
                let comma = rest.utf8.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
                let coding = rest[..<comma].trimmingSpaces()
                if !coding.isEmpty && !coding.equalsASCIIIgnoringCase("identity") { return String(coding.prefix(64)) }
                rest = comma == rest.endIndex ? "" : rest[rest.index(after: comma)...]
            }
        }
        return nil
    }

    /// A response to a request that carried a credential, in a coding the scrubber cannot
    /// read (a secret echoed inside it would reach the sandbox compressed): nothing of it is
    /// forwarded; the client gets 502, the entry says why, and the upstream connection,
    /// mid-response, is not used again.
    func refuseEncodedResponse(_ exchange: Exchange, encoding: String, _ context: ChannelHandlerContext) {
        if case .origin(let origin) = mode, let upstream = exchange.upstream {
            _ = origin.upstream.release(upstream, reusable: false)
        }
        exchange.upstream = nil
        failed(exchange, status: 502, message: "the upstream answered a request that carried a credential with "
            + "Content-Encoding \(Escape.quoted(encoding)), which the gateway cannot scrub for the secret (it asked for identity)",
            context)
    }

    /// A part of a held response's body: kept (unscrubbed until the body is whole). A body
    /// longer than its length said (the decoder does not let one through) is not held further:
    /// the head goes out without a length and the body is streamed.
    func holdResponseBody(_ bytes: ByteBuffer, _ exchange: Exchange, _ context: ChannelHandlerContext) {
        guard var held = exchange.heldResponse else { return }
        if var body = held.body {
            body.writeImmutableBuffer(bytes)
            held.body = body
        } else {
            held.body = bytes
        }
        guard let body = held.body, body.readableBytes > Self.maxHeldBody else {
            exchange.heldResponse = held
            return
        }
        exchange.heldResponse = nil
        exchange.responseStarted = true
        context.write(wrapOutboundOut(.head(held.head)), promise: nil)
        let out = exchange.scrubber!.scrub(body)
        if out.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(out))), promise: nil) }
    }

    /// The held response's body is whole: scrubbed at once (in place when it holds no
    /// secret), then its head goes out with the scrubbed length, and the body after it.
    func sendHeldResponse(_ exchange: Exchange, _ context: ChannelHandlerContext) {
        guard var held = exchange.heldResponse else { return }
        exchange.heldResponse = nil
        let body = exchange.scrubber!.scrub(whole: held.body ?? ByteBuffer())
        held.head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        exchange.responseStarted = true
        context.write(wrapOutboundOut(.head(held.head)), promise: nil)
        if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
    }
}
