import NIOCore
import NIOPosix
import PortcullisModel
import Testing

/// A request that went upstream has its entry however its connection ends: the client
/// leaving (FIN), the client resetting (an I/O error on the gateway's side), in the forward
/// proxy and inside a tunnel. (An I/O error used to close the connection with the state
/// already marked closed, so the entry of a request in flight was never written.)
@Suite(.serialized) struct ExchangeEndingTests {
    /// An upstream that reads requests and never answers; `received` completes at the first byte.
    final class SilentUpstream: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: EventLoopPromise<Void>
        init(_ received: EventLoopPromise<Void>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { received.succeed(()) }
    }

    func withSilentUpstream(_ body: (Int, EventLoopFuture<Void>) async throws -> Void) async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let received = loop.makePromise(of: Void.self)
        let server = try await ServerBootstrap(group: loop)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(SilentUpstream(received)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { received.succeed(()); server.close(promise: nil) }
        try await body(server.localAddress!.port!, received.futureResult)
    }

    func expectEntry(_ h: Harness, path: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        let entry = await h.event { $0.path == path }
        #expect(entry != nil, "no entry for \(path): \(h.audit.all.map { "\($0.action) \($0.path ?? "-") \($0.reason)" })",
                sourceLocation: sourceLocation)
        #expect(entry?.action == .allow, sourceLocation: sourceLocation)
        #expect(entry?.reason.contains("; closed: ") == true, "\(entry?.reason ?? "")", sourceLocation: sourceLocation)
    }

    static let auth = AttackTests.auth

    /// (A client's FIN inside a tunnel is a half-close: the request stays in flight until
    /// its response or a timeout, so that case is not here.)
    @Test(arguments: [(false, false), (false, true), (true, true)])
    func aRequestInFlightIsLoggedWhenTheClientLeaves(inTunnel: Bool, reset: Bool) async throws {
        try await withHarness { h in
            try await withSilentUpstream { port, received in
                let path = "/in-flight-\(inTunnel ? "tunnel" : "forward")-\(reset ? "reset" : "fin")"
                let (channel, _, _) = try await RawClient.open(port: h.httpPort)
                var text = "GET http://allowed.test:\(port)\(path) HTTP/1.1\r\nHost: allowed.test:\(port)\r\n" + Self.auth + "\r\n"
                if inTunnel {
                    text = "CONNECT allowed.test:\(port) HTTP/1.1\r\n" + Self.auth + "\r\n"
                        + "GET \(path) HTTP/1.1\r\nHost: allowed.test:\(port)\r\n\r\n"
                }
                try await channel.writeAndFlush(ByteBuffer(string: text))
                try await received.get()
                if reset {
                    // SO_LINGER 0: the close is a reset, an I/O error on the gateway's side.
                    let options = try #require(channel as? any SocketOptionProvider)
                    try await options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
                }
                try await channel.close()
                await expectEntry(h, path: path)
            }
        }
    }
}
