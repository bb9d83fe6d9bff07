import NIOCore
import NIOPosix
import PortcullisDNS
import Synchronization

/// Binds the DNS gateway on one address, UDP and TCP on the same port (port 0: the port
/// the UDP socket got is taken for TCP too).
///
/// - UDP: one socket; datagrams up to 4 KiB are read (longer ones arrive cut and get FORMERR);
///   responses are cut to 512 bytes, or the client's EDNS size up to 1232, with TC set.
/// - TCP: two-byte length framing, messages of 12 to 65535 bytes, at most `maxTCPConnections`
///   open (beyond: closed at once), at most 16 queries in flight per connection (beyond: closed),
///   closed after `idleTimeout` without a byte read.
enum DNSListener {
    static let maxTCPInFlight = 16

    /// Binds UDP, then TCP on the same port. Asked for port 0, the port the kernel gives the
    /// UDP socket may already be taken for TCP, so a few fresh ports are tried before giving up.
    static func bind(_ address: SocketAddress, on eventLoop: any EventLoop, group: any EventLoopGroup, service: DNSGateway,
                     maxTCPConnections: Int = 256, idleTimeout: TimeAmount = .seconds(10)) async throws -> [any Channel] {
        let attempts = address.port == 0 ? 16 : 1
        for attempt in 1... {
            do {
                return try await bindOnce(address, on: eventLoop, group: group, service: service,
                                          maxTCPConnections: maxTCPConnections, idleTimeout: idleTimeout)
            } catch let error as IOError where attempt < attempts && error.errnoCode == EADDRINUSE {
                continue
            }
        }
        preconditionFailure("unreachable: the last attempt returns or throws")
    }

    private static func bindOnce(_ address: SocketAddress, on eventLoop: any EventLoop, group: any EventLoopGroup,
                                 service: DNSGateway, maxTCPConnections: Int, idleTimeout: TimeAmount) async throws -> [any Channel] {
        // The UDP socket is opened here (DNSReplySocket), without SO_REUSEADDR: with it, a
        // second UDP socket (an mDNS responder's on 0.0.0.0:5353, say) binds the same port
        // silently and takes some of the queries. On the wildcard address each datagram's
        // destination is read, and the answer leaves from it.
        let socket = try DNSReplySocket.open(address)
        let wildcard = DNSReplySocket.isWildcard(address)
        // Should NIO fail to adopt the descriptor, it is left alone: whether NIO already
        // closed it is not known here, and closing a number reused by another socket is worse.
        let udp = try await DatagramBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
            .channelOption(ChannelOptions.maxMessagesPerRead, value: 32)
            .channelOption(ChannelOptions.receivePacketInfo, value: wildcard)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSUDPHandler(service: service, replyFrom: wildcard ? socket : nil))
                }
            }
            .withBoundSocket(socket.descriptor).get()
        do {
            guard let local = udp.localAddress, let port = local.port, let host = local.ipAddress else {
                throw DNSForwardError(description: "the DNS UDP socket has no local address")
            }
            let tcpAddress = try SocketAddress(ipAddress: host, port: port)
            let open = Atomic<Int>(0)
            let tcp = try await ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 256)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    guard open.add(1, ordering: .relaxed).newValue <= maxTCPConnections else {
                        open.subtract(1, ordering: .relaxed)
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in open.subtract(1, ordering: .relaxed) }
                    return channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try sync.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                        try sync.addHandler(DNSTCPHandler(service: service))
                    }
                }
                .bind(to: tcpAddress).get()
            return [udp, tcp]
        } catch {
            try? await udp.close()
            throw error
        }
    }
}

/// One datagram in, at most one out, to the sender, from the address it was sent to.
final class DNSUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let service: DNSGateway
    /// Set when the socket is bound to the wildcard address: answers go out through it
    /// with the query's destination as their source.
    let replyFrom: DNSReplySocket?

    init(service: DNSGateway, replyFrom: DNSReplySocket? = nil) {
        self.service = service
        self.replyFrom = replyFrom
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let remote = envelope.remoteAddress
        let local = envelope.metadata?.packetInfo?.destinationAddress
        service.handle(envelope.data, from: remote, transport: .udp, on: context.eventLoop)
            .assumeIsolated()
            .whenSuccess { response in
                guard let response else { return }
                if let socket = self.replyFrom, let local {
                    guard context.channel.isActive else { return }
                    _ = socket.send(response, to: remote, from: local)
                    return
                }
                context.writeAndFlush(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: response)), promise: nil)
            }
    }

    /// Send errors (ICMP unreachable from a client gone away) must not close the listener.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Framed messages in, framed responses out (possibly out of order, RFC 7766 §7).
final class DNSTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let service: DNSGateway
    private var inFlight = 0

    init(service: DNSGateway) { self.service = service }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        inFlight += 1
        guard inFlight <= DNSListener.maxTCPInFlight else {
            context.close(promise: nil)
            return
        }
        service.handle(frame, from: context.remoteAddress, transport: .tcp, on: context.eventLoop)
            .assumeIsolated()
            .whenSuccess { response in
                self.inFlight -= 1
                guard let response else { return }
                context.writeAndFlush(self.wrapOutboundOut(DNSTCPFrameDecoder.frame(response)), promise: nil)
            }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
