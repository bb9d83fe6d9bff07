import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// The relay: client bytes in, the upstream glue's calls, back-pressure both ways.
extension TunnelHandler {
    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if machine.isRelaying {
            lastActivity = context.eventLoop.now
            machine.countUp(bytes.readableBytes)
            upstreamGlue?.write(bytes)
            return
        }
        if machine.isClosed { return }
        lastActivity = context.eventLoop.now
        perform(machine.clientBytes(bytes), context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstreamGlue?.flush()
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
            if let action = machine.clientInputClosed() {
                perform(action, context)
                return
            }
            if machine.isRelaying {
                upstreamGlue?.writeEOF()
                if outputClosed { context.close(promise: nil) }
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        upstream?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstreamGlue?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Outbound reads: back-pressure

    func read(context: ChannelHandlerContext) {
        // Before relaying, reads go on (first bytes are bounded by the machine); once
        // relaying, only while the upstream can take more.
        if machine.isRelaying, let upstream, !upstream.isWritable {
            pendingRead = true
            return
        }
        context.read()
    }

    // MARK: - The upstream glue's calls (same event loop)

    /// Bytes from upstream to the client.
    func upstreamBytes(_ bytes: ByteBuffer) {
        guard let context else { return }
        releaseKeptHTTP()  // a server speaks first: not an HTTP stream
        lastActivity = context.eventLoop.now
        machine.countDown(bytes.readableBytes)
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    func upstreamReadComplete() { context?.flush() }

    func upstreamInputClosed() {
        guard let context else { return }
        outputClosed = true
        if inputClosed {
            context.close(promise: nil)
        } else {
            context.close(mode: .output, promise: nil)
        }
    }

    func upstreamBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    /// As `HTTPStreamHandler.clientWritable`: reads go on once the client is gone.
    var clientWritable: Bool { context?.channel.isWritable ?? true }
}


/// The upstream side of a relay: hands bytes to its `TunnelHandler` (same event loop),
/// reads only while the client can take more, and passes half-close and errors on.
final class UpstreamGlue: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var client: TunnelHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false

    init(client: TunnelHandler) { self.client = client }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        client = nil
    }

    func write(_ bytes: ByteBuffer) { context?.write(wrapOutboundOut(bytes), promise: nil) }
    func flush() { context?.flush() }

    func writeEOF() {
        outputClosed = true
        if inputClosed { context?.close(promise: nil) } else { context?.close(mode: .output, promise: nil) }
    }

    func clientBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { client?.upstreamBytes(unwrapInboundIn(data)) }
    func channelReadComplete(context: ChannelHandlerContext) { client?.upstreamReadComplete() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
            client?.upstreamInputClosed()
            if outputClosed { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { client?.upstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if client?.clientWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
