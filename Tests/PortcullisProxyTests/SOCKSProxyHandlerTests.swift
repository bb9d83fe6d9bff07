import NIOCore
import NIOEmbedded
import Testing
@testable import PortcullisProxy

@Suite struct SOCKSProxyHandlerTests {
    func makeChannel(_ gate: FakeGate) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try SOCKSProxyHandler.install(on: channel, env: gate.env)
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 5555)).wait()
        return channel
    }

    let auth: [UInt8] = [1, 5] + Array("sbx_t".utf8) + [3] + Array("tok".utf8)

    @Test func aDripFedHandshakeAuthenticatesAndRefusesBIND() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        try channel.drip([5, 2, 0, 2])
        #expect(try channel.outboundBytes() == [5, 2])
        try channel.drip(auth)
        #expect(try channel.outboundBytes() == [1, 0])
        try channel.drip([5, 2, 0, 1, 127, 0, 0, 1, 0, 80])
        channel.embeddedEventLoop.run()
        let reply = try channel.outboundBytes()
        #expect(reply.prefix(2) == [5, 7])
        #expect(!channel.isActive)
        #expect(gate.events.last?.status == 7)
    }

    @Test func everythingAtOnceWorksToo() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(bytes: [5, 1, 2] + auth + [5, 1, 0, 3, 11] + Array("denied.test".utf8) + [0, 80]))
        channel.embeddedEventLoop.run()
        let out = try channel.outboundBytes()
        #expect(out.prefix(4) == [5, 2, 1, 0])
        #expect(out.count > 5 && out[4] == 5 && out[5] == 2)
        #expect(gate.events.last?.rejectedBy == "rul_deny")
    }

    @Test func withoutUsernamePasswordNoMethodIsAcceptable() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(bytes: [5, 1, 0]))
        #expect(try channel.outboundBytes() == [5, 0xFF])
        #expect(!channel.isActive)
        #expect(gate.events.last?.rejectedBy == "proxy-auth")
    }

    @Test func aConnectBecomesACheckedTunnel() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(bytes: [5, 1, 2] + auth + [5, 1, 0, 3, 12] + Array("allowed.test".utf8) + [0, 80]
            + Array("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n".utf8)))
        channel.embeddedEventLoop.run()
        let out = try channel.outboundBytes()
        #expect(out.count >= 14 && out[4] == 5 && out[5] == 0)
        let upstream = try #require(gate.upstreams.first)
        #expect(String(decoding: try upstream.outboundBytes(), as: UTF8.self) == "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
        _ = try? channel.close().wait()
        channel.embeddedEventLoop.run()
        #expect(gate.events.last?.via == .socks5 && gate.events.last?.action == .allow)
    }

    @Test func anOversizedHandshakeIsCut() throws {
        var settings = ProxySettings()
        settings.maxSOCKSHandshakeBytes = 64
        let channel = try makeChannel(FakeGate(settings: settings))
        try channel.writeInbound(ByteBuffer(bytes: [5, 1, 2] + [1, 255] + [UInt8](repeating: 65, count: 200)))
        #expect(!channel.isActive)
    }
}

@Suite struct SOCKSOptimisticDataTests {
    @Test func bytesSentBeforeTheReplyReachTheTunnelInOrder() throws {
        let gate = FakeGate()
        let channel = EmbeddedChannel()
        try SOCKSProxyHandler.install(on: channel, env: gate.env)
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 5555)).wait()
        let auth: [UInt8] = [1, 5] + Array("sbx_t".utf8) + [3] + Array("tok".utf8)
        try channel.writeInbound(ByteBuffer(bytes: [5, 1, 2] + auth + [5, 1, 0, 3, 12] + Array("allowed.test".utf8) + [0, 80]
            + Array("GET / HTTP/1.1\r\n".utf8)))
        try channel.writeInbound(ByteBuffer(string: "Host: allowed.test\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let upstream = try #require(gate.upstreams.first)
        #expect(String(decoding: try upstream.outboundBytes(), as: UTF8.self) == "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
        _ = try? channel.close().wait()
        channel.embeddedEventLoop.run()
    }
}
