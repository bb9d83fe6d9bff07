import NIOCore
import NIOEmbedded
import PortcullisAudit
import Testing
@testable import PortcullisProxy

/// A request being answered on which nothing moves either way for the idle timeout
/// (`tunnelIdleTimeout`, as for tunnels) ends: 504 before a response started, a cut
/// response after, each with its entry — a silent upstream does not hold a connection and
/// the sandbox's slot forever.
@Suite struct ExchangeIdleTests {
    func forward(idle: Int64) throws -> (FakeGate, EmbeddedChannel) {
        var settings = ProxySettings()
        settings.tunnelIdleTimeout = .seconds(idle)
        let gate = FakeGate(settings: settings)
        return (gate, try gate.forwardChannel())
    }

    @Test func aSilentUpstreamIsAnswered504AfterTheIdleTimeout() throws {
        let (gate, channel) = try forward(idle: 30)
        try channel.writeInbound(ByteBuffer(string: "GET http://allowed.test/slow HTTP/1.1\r\nHost: allowed.test\r\n" + credentials + "\r\n"))
        let upstream = try #require(gate.upstreams.first)
        #expect(try upstream.outboundText().hasPrefix("GET /slow HTTP/1.1\r\n"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(try channel.outboundText() == "" && channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        let out = try channel.outboundText()
        #expect(out.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"), "\(out)")
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive && !upstream.isActive)
        #expect(gate.events.count == 1)
        #expect(gate.events.last?.status == 504 && gate.events.last?.action == .error)
        #expect(gate.events.last?.reason.contains("nothing moved for 30 s") == true, "\(gate.events.last?.reason ?? "")")
        #expect(gate.open == 0)
    }

    @Test func aResponseThatStopsIsCutAfterTheIdleTimeout() throws {
        let (gate, channel) = try forward(idle: 30)
        try channel.writeInbound(ByteBuffer(string: "GET http://allowed.test/part HTTP/1.1\r\nHost: allowed.test\r\n" + credentials + "\r\n"))
        let upstream = try #require(gate.upstreams.first)
        _ = try upstream.outboundText()
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"))
        #expect(try channel.outboundText().hasSuffix("ab"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(31))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive && !upstream.isActive)
        #expect(gate.events.count == 1)
        #expect(gate.events.last?.action == .allow && gate.events.last?.bytesDown == 2)
        #expect(gate.events.last?.reason.contains("no bytes either way for 30 s") == true, "\(gate.events.last?.reason ?? "")")
    }

    @Test func bytesEitherWayKeepAnExchangeAlive() throws {
        let (gate, channel) = try forward(idle: 30)
        try channel.writeInbound(ByteBuffer(string: "POST http://allowed.test/up HTTP/1.1\r\nHost: allowed.test\r\n" + credentials
            + "Content-Length: 4\r\n\r\na"))
        let upstream = try #require(gate.upstreams.first)
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        try channel.writeInbound(ByteBuffer(string: "bcd"))  // the body's rest at 20 s
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))  // 40 s: 20 s since the client's last byte
        #expect(channel.isActive)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwx"))  // at 40 s
        channel.embeddedEventLoop.advanceTime(by: .seconds(25))  // 65 s: 25 s since the response's last byte
        #expect(channel.isActive)
        try upstream.writeInbound(ByteBuffer(string: "yz"))
        #expect(try channel.outboundText().hasSuffix("wxyz"))
        #expect(gate.events.count == 1 && gate.events[0].status == 200)
        #expect(gate.events[0].reason.contains("no bytes") == false)
        // Idle between requests, the keep-alive idle timeout (60 s) governs again.
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
        _ = try? channel.finish()
    }

    @Test func noTimeoutLetsAnExchangeWaitAsLongAsItTakes() throws {
        var settings = ProxySettings()
        settings.tunnelIdleTimeout = nil
        let gate = FakeGate(settings: settings)
        let channel = try gate.forwardChannel()
        try channel.writeInbound(ByteBuffer(string: "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n" + credentials + "\r\n"))
        channel.embeddedEventLoop.advanceTime(by: .hours(2))
        #expect(channel.isActive && gate.events.isEmpty)
        _ = try? channel.finish()
    }
}
