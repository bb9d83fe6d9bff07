import Foundation
import NIOCore
import NIOPosix

/// `naive --port P [--threads N]`: the naive reference of the benchmark table. The
/// smallest CONNECT proxy SwiftNIO allows (after swift-nio-examples' connect-proxy): read
/// the head, dial the target, answer 200, relay. No credential, no policy, no first-bytes
/// check, no timeouts, no audit, no metrics; every target is dialled at 127.0.0.1. It is
/// the floor of a SwiftNIO proxy on this machine: what Portcullis costs beyond it is what
/// enforcement and the audit log cost. Never a product: it would relay anything.
enum Naive {
    static func run() async throws {
        let port = Int(option("--port", "8081")!)!
        let threads = Int(option("--threads", "\(System.coreCount)")!)!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NaiveConnectHandler()) }
            }
            .bind(host: "127.0.0.1", port: port).get()
        say("naive reference proxy on \(server.localAddress!)")
        try await server.closeFuture.get()
    }
}

/// Reads one CONNECT head (at most 8 KiB), dials, answers, then becomes a relay.
final class NaiveConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var head: ByteBuffer?
    private var dialling = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if head == nil { head = bytes } else { head!.writeBuffer(&bytes) }
        guard !dialling, let view = head?.readableBytesView else { return }
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
            if view.count > 8192 { context.close(promise: nil) }
            return
        }
        let line = String(decoding: view[view.startIndex..<(view.firstIndex(of: 13) ?? end.lowerBound)], as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count == 3, parts[0] == "CONNECT", let colon = parts[1].lastIndex(of: ":"),
              let port = Int(parts[1][parts[1].index(after: colon)...])
        else {
            context.close(promise: nil)
            return
        }
        head!.moveReaderIndex(forwardBy: end.upperBound - view.startIndex)
        dialling = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: "127.0.0.1", port: port)
            .whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .failure: context.close(promise: nil)
                case .success(let upstream): handler.relay(upstream, context: context)
                }
            }
    }

    private func relay(_ upstream: any Channel, context: ChannelHandlerContext) {
        let (client, server) = NaiveGlue.pair()
        do {
            try context.pipeline.syncOperations.addHandler(client)
            try upstream.pipeline.syncOperations.addHandler(server)
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 Connection Established\r\n\r\n")), promise: nil)
        if let rest = head, rest.readableBytes > 0 { upstream.writeAndFlush(rest, promise: nil) }
        head = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
    }
}

/// One side of the relay: writes what it reads to its partner, flushes on read-complete,
/// reads only while the partner is writable, closes the partner when it closes.
final class NaiveGlue: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: NaiveGlue?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    static func pair() -> (NaiveGlue, NaiveGlue) {
        let a = NaiveGlue(), b = NaiveGlue()
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.write(data, promise: nil)
    }
    func channelReadComplete(context: ChannelHandlerContext) { partner?.context?.flush() }
    func channelInactive(context: ChannelHandlerContext) { partner?.context?.close(promise: nil) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let partner, partner.pendingRead {
            partner.pendingRead = false
            partner.context?.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
