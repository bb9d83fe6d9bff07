import NIOCore
import NIOEmbedded
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire
import Testing
@testable import PortcullisProxy

/// A stream installed on a client connection that has just closed: NIO fires
/// `channelInactive`, then tears the pipeline down on the loop's next turn, and a handler
/// added in between (the TLS bridge finishing as the client leaves) sees only its removal.
/// Whatever it tracked must be untracked then, or the gateway counts a live connection for
/// good (the termination fuzz's rare leftover under load).
@Suite struct LateInstallTests {
    final class Anchor: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
    }

    /// A client channel that is closed, its handlers not yet removed; the context of the
    /// handler a stream is installed after.
    func justClosed() throws -> (EmbeddedChannel, ChannelHandlerContext) {
        let channel = EmbeddedChannel()
        let anchor = Anchor()
        try channel.pipeline.syncOperations.addHandler(anchor)
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 5555)).wait()
        channel.close(promise: nil)
        #expect(!channel.isActive)
        return (channel, try channel.pipeline.syncOperations.context(handler: anchor))
    }

    func origin(_ gate: FakeGate, on channel: EmbeddedChannel) throws -> HTTPStreamHandler.Origin {
        let sandbox = try #require(gate.authenticate(ProxyCredential(username: "sbx_t", password: "tok"), source: nil))
        let upstream = EmbeddedChannel(loop: channel.embeddedEventLoop)
        try upstream.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        return HTTPStreamHandler.Origin(host: try HostParser.parseTarget("allowed.test"), port: 443,
                                        address: .v4(IPv4Address(127, 0, 0, 1)), sandbox: sandbox, via: .connect,
                                        upstream: try FixedUpstream(channel: upstream), terminated: true)
    }

    @Test func anHTTP1StreamAddedAfterTheCloseIsUntrackedAtTeardown() throws {
        let gate = FakeGate()
        let (channel, context) = try justClosed()
        try HTTPStreamHandler.installFixed(on: channel, origin: try origin(gate, on: channel), env: gate.env,
                                           tunnelRecord: nil, after: context)
        #expect(gate.tracked.count == 1, "the stream tracks its host for policy changes")
        channel.embeddedEventLoop.run()
        #expect(gate.tracked.isEmpty, "the teardown removed the stream: its live entry goes with it")
    }

    @Test func anHTTP2ConnectionAddedAfterTheCloseIsUntrackedAtTeardown() throws {
        let gate = FakeGate()
        let (channel, context) = try justClosed()
        try TerminatedConnection.installHTTP2(on: channel, origin: try origin(gate, on: channel), env: gate.env,
                                              record: nil, after: context)
        #expect(gate.tracked.count == 1)
        channel.embeddedEventLoop.run()
        #expect(gate.tracked.isEmpty)
    }
}
