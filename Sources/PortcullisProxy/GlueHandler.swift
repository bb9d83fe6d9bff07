import NIOCore

/// One side of a matched pair that relays bytes between two channels on one event loop,
/// honouring back-pressure (a side reads only while its partner is writable) and
/// half-close (EOF on one side shuts the partner's output). After swift-nio-examples'
/// connect-proxy `GlueHandler`; this one also counts the bytes it relays.
final class GlueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Half-close bookkeeping: once both directions are shut, the channel closes fully.
    private var inputClosed = false
    private var outputClosed = false
    private let onBytes: (Int) -> Void

    private init(onBytes: @escaping (Int) -> Void) { self.onBytes = onBytes }

    /// `(clientSide, upstreamSide)`; `up` counts bytes read from the client, `down` bytes
    /// read from upstream.
    static func matchedPair(up: @escaping (Int) -> Void, down: @escaping (Int) -> Void) -> (GlueHandler, GlueHandler) {
        let first = GlueHandler(onBytes: up), second = GlueHandler(onBytes: down)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private func partnerWrite(_ data: ByteBuffer) { context?.write(wrapOutboundOut(data), promise: nil) }
    private func partnerFlush() { context?.flush() }
    private func partnerWriteEOF() {
        outputClosed = true
        if inputClosed {
            context?.close(promise: nil)
        } else {
            context?.close(mode: .output, promise: nil)
        }
    }
    private func partnerCloseFull() { context?.close(promise: nil) }
    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }
    private var partnerWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        onBytes(bytes.readableBytes)
        partner?.partnerWrite(bytes)
    }

    func channelReadComplete(context: ChannelHandlerContext) { partner?.partnerFlush() }

    func channelInactive(context: ChannelHandlerContext) { partner?.partnerCloseFull() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
            partner?.partnerWriteEOF()
            if outputClosed { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { partner?.partnerCloseFull() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
