import NIOCore
import NIOPosix
import PortcullisDNS
import PortcullisPolicy
import Synchronization

/// A resolver on 127.0.0.1 (UDP and TCP, one port) that tests point the gateway at:
/// - any A question: 192.0.2.1, TTL 300;
/// - `chain.test`: a CNAME to `edge.cdn.test`, which has 192.0.2.9;
/// - `spoof.test`: first an answer with the wrong ID (203.0.113.66), then the real one;
/// - `big.test`: over UDP an empty answer with TC set; over TCP 40 A records;
/// - `nx.test`: NXDOMAIN with an SOA (MINIMUM 30);
/// - `silent.test`: never answered.
/// Counts what it was asked, by name and transport.
final class FakeDNSUpstream: Sendable {
    let udp: any Channel
    let tcp: any Channel
    let asked = Mutex<[String]>([])
    var port: Int { udp.localAddress?.port ?? 0 }
    var address: SocketAddress { udp.localAddress! }

    /// UDP and TCP on one port; the port the kernel gives the UDP socket may be taken for TCP,
    /// so a few fresh ports are tried.
    static func start() async throws -> FakeDNSUpstream {
        for attempt in 1... {
            do { return try await startOnce() } catch let error as IOError where attempt < 16 && error.errnoCode == EADDRINUSE { continue }
        }
        preconditionFailure("unreachable: the last attempt returns or throws")
    }

    private static func startOnce() async throws -> FakeDNSUpstream {
        let group = MultiThreadedEventLoopGroup.singleton
        let box = Mutex<FakeDNSUpstream?>(nil)
        let udp = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FakeUDPHandler(owner: { box.withLock { $0 } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let tcp: any Channel
        do {
            tcp = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(FakeTCPHandler(owner: { box.withLock { $0 } }))
                }
            }
            .bind(host: "127.0.0.1", port: udp.localAddress!.port!).get()
        } catch {
            try? await udp.close()
            throw error
        }
        let upstream = FakeDNSUpstream(udp: udp, tcp: tcp)
        box.withLock { $0 = upstream }
        return upstream
    }

    private init(udp: any Channel, tcp: any Channel) {
        self.udp = udp
        self.tcp = tcp
    }

    func stop() async {
        try? await udp.close()
        try? await tcp.close()
    }

    func count(_ entry: String) -> Int { asked.withLock { $0.filter { $0 == entry }.count } }

    /// The answers to send for one query (nil: stay silent).
    func respond(to bytes: ByteBuffer, tcp: Bool) -> [ByteBuffer] {
        guard let query = try? DNSMessage(parsing: bytes), let q = query.questions.first else { return [] }
        let text = q.name.description.lowercased()
        asked.withLock { $0.append("\(tcp ? "tcp" : "udp") \(text)") }
        func a(_ name: DNSName, _ v: UInt32, ttl: UInt32 = 300) -> DNSResourceRecord { .address(name, .v4(IPv4Address(v)), ttl: ttl) }
        var response = DNSMessage.response(to: query, code: .noError)
        switch text {
        case "silent.test":
            return []
        case "chain.test":
            let edge = DNSName("edge.cdn.test")!
            response.answers = [DNSResourceRecord(name: q.name, type: .cname, ttl: 120, data: .cname(edge)), a(edge, 0xC000_0209, ttl: 40)]
        case "spoof.test":
            var fake = response
            fake.header.id ^= 0xFFFF
            fake.answers = [a(q.name, 0xCB00_7142)]
            response.answers = [a(q.name, 0xC000_0201)]
            return [fake.write(), response.write()]
        case "big.test":
            if tcp {
                response.answers = (0..<40).map { a(q.name, 0xC000_0200 + UInt32($0)) }
            } else {
                response.header.truncated = true
            }
        case "nx.test":
            response.header.responseCode = .nameError
            let soa = DNSName("ns.test")!.wire + DNSName("admin.test")!.wire + Array(repeating: 0, count: 16) + [0, 0, 0, 30]
            response.authorities = [DNSResourceRecord(name: DNSName("test")!, type: .soa, ttl: 300, data: .opaque(soa))]
        default:
            if q.type == .a { response.answers = [a(q.name, 0xC000_0201)] }
        }
        return [response.write()]
    }
}

private final class FakeUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let owner: @Sendable () -> FakeDNSUpstream?
    init(owner: @escaping @Sendable () -> FakeDNSUpstream?) { self.owner = owner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        for answer in owner()?.respond(to: envelope.data, tcp: false) ?? [] {
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: answer)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

private final class FakeTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let owner: @Sendable () -> FakeDNSUpstream?
    init(owner: @escaping @Sendable () -> FakeDNSUpstream?) { self.owner = owner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        for answer in owner()?.respond(to: unwrapInboundIn(data), tcp: true) ?? [] {
            context.writeAndFlush(wrapOutboundOut(DNSTCPFrameDecoder.frame(answer)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// Sends DNS messages to the gateway and collects what comes back.
enum DNSTestClient {
    /// One datagram from `source`; the first answer within `timeout`, else nil.
    static func udp(_ payload: ByteBuffer, port: Int, source: String = "127.0.0.1",
                    timeout: TimeAmount = .seconds(3)) async throws -> DNSMessage? {
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let promise = loop.makePromise(of: ByteBuffer?.self)
        let timer = loop.scheduleTask(in: timeout) { promise.succeed(nil) }
        let channel = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FirstDatagram(promise: promise))
                }
            }
            .bind(host: source, port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: payload))
        let bytes = try await promise.futureResult.get()
        timer.cancel()
        try? await channel.close()
        return try bytes.map { try DNSMessage(parsing: $0) }
    }

    static func udp(_ message: DNSMessage, port: Int, source: String = "127.0.0.1") async throws -> DNSMessage? {
        try await udp(message.write(), port: port, source: source)
    }

    /// One framed query over a fresh TCP connection.
    static func tcp(_ message: DNSMessage, port: Int, timeout: TimeAmount = .seconds(3)) async throws -> DNSMessage? {
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let promise = loop.makePromise(of: ByteBuffer?.self)
        let timer = loop.scheduleTask(in: timeout) { promise.succeed(nil) }
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(FirstFrame(promise: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(DNSTCPFrameDecoder.frame(message.write()))
        let bytes = try await promise.futureResult.get()
        timer.cancel()
        try? await channel.close()
        return try bytes.map { try DNSMessage(parsing: $0) }
    }
}

private final class FirstDatagram: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let promise: EventLoopPromise<ByteBuffer?>
    var done = false
    init(promise: EventLoopPromise<ByteBuffer?>) { self.promise = promise }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        done = true
        promise.succeed(unwrapInboundIn(data).data)
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

private final class FirstFrame: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<ByteBuffer?>
    var done = false
    init(promise: EventLoopPromise<ByteBuffer?>) { self.promise = promise }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        done = true
        promise.succeed(unwrapInboundIn(data))
    }
    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            promise.succeed(nil)
        }
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
