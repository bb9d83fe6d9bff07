import NIOCore
import NIOHTTP1

extension ChannelPipeline.SynchronousOperations {
    /// The HTTP client handlers of an upstream the gateway writes requests to: the encoder
    /// never adds or removes framing fields (the stream handler sets exactly the framing it
    /// decoded; NIO would otherwise strip a TRACE's `Content-Length` and write its body raw),
    /// and outbound header validation stays on.
    ///
    /// The handlers NIO's `addHTTPClientHandlers` adds (encoder, decoder, header validator,
    /// its defaults), and this handler after them, in one `addHandlers` call.
    func addUpstreamHTTPHandlers(_ handler: UpstreamHTTPHandler) throws {
        var encoder = HTTPRequestEncoder.Configuration()
        encoder.automaticallySetFramingHeaders = false
        try addHandlers([HTTPRequestEncoder(configuration: encoder), ByteToMessageHandler(HTTPResponseDecoder()),
                         NIOHTTPRequestHeadersValidator(), handler])
    }
}

/// The upstream side of a forwarded HTTP request: hands response parts to the client's
/// `HTTPStreamHandler` (same event loop) and reads only while the client is writable.
final class UpstreamHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var owner: HTTPStreamHandler?
    private var pendingRead = false
    private(set) var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// The channel this upstream writes to (an HTTP/1.1 connection, or an HTTP/2 stream).
    var channel: (any Channel)? { context?.channel }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner?.upstreamRead(unwrapInboundIn(data), from: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) { owner?.upstreamReadComplete() }

    func channelInactive(context: ChannelHandlerContext) {
        owner?.upstreamClosed(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { owner?.upstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if owner?.clientWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    /// The client drained its buffer: resume a read held back.
    func clientBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    /// Writes one request part; a write that fails is reported (`failed`), never lost.
    func send(_ part: HTTPClientRequestPart, flush: Bool, failed: @escaping (any Error) -> Void) {
        guard let context else {
            failed(ChannelError.ioOnClosedChannel)
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenFailure(failed)
        if flush {
            context.writeAndFlush(wrapOutboundOut(part), promise: promise)
        } else {
            context.write(wrapOutboundOut(part), promise: promise)
        }
    }

    /// Writes a body part with no promise: a body write fails only with the socket, which
    /// then closes, and the close is what the stream handler acts on (`upstreamClosed`).
    func send(_ part: HTTPClientRequestPart, flush: Bool) {
        guard let context else { return }
        if flush { context.writeAndFlush(wrapOutboundOut(part), promise: nil) } else { context.write(wrapOutboundOut(part), promise: nil) }
    }
}
