import NIOCore
import NIOEmbedded
import NIOHTTP1
import PortcullisAudit
import PortcullisPolicy
import Testing
@testable import PortcullisProxy

@Suite struct HTTPProxyHandlerTests {
    func makeChannel(_ gate: FakeGate) throws -> EmbeddedChannel { try gate.forwardChannel() }

    @Test func aDripFedRequestHeadIsDecidedOnceComplete() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        let head = "GET http://denied.test/x HTTP/1.1\r\nHost: denied.test\r\n" + credentials + "\r\n"
        let bytes = Array(head.utf8)
        try channel.drip(Array(bytes.dropLast()))
        #expect(try channel.outboundText() == "")
        try channel.drip([bytes.last!])
        let out = try channel.outboundText()
        #expect(out.hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
        #expect(out.contains("X-Portcullis-Reason: rul_deny\r\n"))
        #expect(gate.events.count == 1)
        #expect(gate.events[0].rejectedBy == "rul_deny" && gate.events[0].client == "10.1.2.3:5555")
        #expect(gate.events[0].policyVersion == 7)
        _ = try? channel.finish()
    }

    @Test func noCredentialIs407AndIsAudited() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(string: "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n"))
        let out = try channel.outboundText()
        #expect(out.hasPrefix("HTTP/1.1 407 Proxy Authentication Required\r\n"))
        #expect(out.contains("Proxy-Authenticate: Basic realm=\"portcullis\""))
        #expect(gate.events.first?.sandboxID == nil && gate.events.first?.status == 407)
        _ = try? channel.finish()
    }

    /// A request refused 400 before its decision (an ambiguous path, an origin-form target)
    /// is still the sandbox's entry, with host, port and path (no query) where they parse.
    @Test(arguments: [("GET http://allowed.test:8080/v1/a%2Fb?token=SECRET HTTP/1.1", "allowed.test", 8080, "/v1/a%2Fb"),
                      ("GET http://allowed.test/v1/..;jsessionid=SECRET/admin HTTP/1.1", "allowed.test", 80, "/v1/.."),
                      ("GET /v1/x?token=SECRET HTTP/1.1", "allowed.test", 80, "/v1/x"),
                      ("GET * HTTP/1.1", "*", nil, nil)])
    func aRequestRefusedBeforeItsDecisionIsTheSandboxes(line: String, host: String, port: Int?, path: String?) throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(string: line + "\r\nHost: allowed.test\r\n" + credentials + "\r\n"))
        #expect(try channel.outboundText().hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        let e = try #require(gate.events.first)
        #expect(e.rejectedBy == "bad-request" && e.sandboxID == "sbx_t" && e.method == "GET")
        #expect(e.host == host && e.port == port && e.path == path)
        #expect(!"\(e)".contains("SECRET"))
        _ = try? channel.finish()
    }

    @Test func anAllowedRequestIsForwardedWithoutCredentialsAndHopByHopFields() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(string: "GET http://allowed.test/p?q=1 HTTP/1.1\r\nHost: allowed.test\r\n"
            + credentials + "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-End: 2\r\n\r\n"))
        let upstream = try #require(gate.upstreams.first)
        let sent = try upstream.outboundText()
        #expect(sent.hasPrefix("GET /p?q=1 HTTP/1.1\r\n"))
        #expect(sent.lowercased().contains("host: allowed.test\r\n"))
        #expect(sent.contains("X-End: 2"))
        for banned in ["proxy-authorization", "x-hop", "proxy-connection", "te:", "connection:"] {
            #expect(!sent.lowercased().contains(banned), "\(banned) was forwarded")
        }
        // The upstream answers; the client gets the response and one audit event is written.
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nok"))
        let out = try channel.outboundText()
        #expect(out.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(out.hasSuffix("ok"))
        #expect(!out.lowercased().contains("keep-alive: timeout"))
        #expect(gate.events.count == 1)
        #expect(gate.events[0].action == .allow && gate.events[0].path == "/p" && gate.events[0].bytesDown == 2)
        #expect(gate.open == 0)
        _ = try? channel.finish()
    }

    @Test func aHostHeaderThatDiffersIsHostMismatch() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(string: "GET http://allowed.test/ HTTP/1.1\r\nHost: denied.test\r\n" + credentials + "\r\n"))
        #expect(try channel.outboundText().contains("X-Portcullis-Reason: host-mismatch"))
        #expect(gate.upstreams.isEmpty)
        _ = try? channel.finish()
    }

    @Test func aSlowHeadTimesOutWith408() throws {
        var settings = ProxySettings()
        settings.headTimeout = .seconds(2)
        let gate = FakeGate(settings: settings)
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(string: "GET http://allowed.test/ HTTP/1.1\r\nX-Slow: "))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try channel.outboundText() == "")
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(try channel.outboundText().hasPrefix("HTTP/1.1 408"))
        #expect(!channel.isActive)
    }

    @Test func anIdleConnectionClosesAfterTheIdleTimeout() throws {
        var settings = ProxySettings()
        settings.idleTimeout = .seconds(5)
        let channel = try makeChannel(FakeGate(settings: settings))
        channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        #expect(!channel.isActive)
    }

    @Test func aHeadOverTheLimitIs431() throws {
        var settings = ProxySettings()
        settings.maxHeadBytes = 1024
        let gate = FakeGate(settings: settings)
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(string: "GET http://allowed.test/ HTTP/1.1\r\nX-Big: " + String(repeating: "b", count: 2000)))
        #expect(try channel.outboundText().hasPrefix("HTTP/1.1 431"))
    }

    @Test func connectHoldsTheClientHelloUntilCompleteThenForwardsItUnchanged() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        let hello = fixture("clienthello-sni-tls.test.bin")
        // allowed.test is the CONNECT host, and the fixture's SNI is tls.test: rejected after the 200.
        try channel.writeInbound(ByteBuffer(string: "CONNECT allowed.test:443 HTTP/1.1\r\n" + credentials + "\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try channel.outboundText() == "HTTP/1.1 200 Connection Established\r\n\r\n")
        let upstream = try #require(gate.upstreams.first)
        try channel.drip(Array(hello.dropLast()))
        #expect(try upstream.outboundBytes().isEmpty, "nothing leaks before the verdict")
        #expect(channel.isActive)
        try channel.drip([hello.last!])
        #expect(try upstream.outboundBytes().isEmpty)
        #expect(!channel.isActive)
        #expect(gate.events.last?.rejectedBy == "sni-mismatch" && gate.events.last?.sni == "tls.test")
    }

    @Test func anOpaqueProtocolPassesAndServerBytesAreNotHeld() throws {
        let gate = FakeGate()
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(string: "CONNECT allowed.test:22 HTTP/1.1\r\n" + credentials + "\r\nSSH-2.0-client\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try channel.outboundText() == "HTTP/1.1 200 Connection Established\r\n\r\n")
        let upstream = try #require(gate.upstreams.first)
        #expect(String(decoding: try upstream.outboundBytes(), as: UTF8.self) == "SSH-2.0-client\r\n")
        // The CONNECT's HTTP handlers, kept behind the tunnel until its first bytes were judged, are gone.
        #expect(channel.keepsNoHTTPHandler && channel.has(TunnelHandler.self))
        try upstream.writeInbound(ByteBuffer(string: "SSH-2.0-server\r\n"))
        #expect(try channel.outboundText() == "SSH-2.0-server\r\n")
        #expect(gate.tracked.count == 1)
        _ = try? channel.close().wait()
        channel.embeddedEventLoop.run()
        #expect(gate.events.count == 1 && gate.events[0].bytesUp == 16 && gate.events[0].bytesDown == 16)
        #expect(gate.tracked.isEmpty && gate.open == 0)
    }

    @Test func aTunnelWhoseFirstBytesStallIsClosedAfterTheDeadline() throws {
        var settings = ProxySettings()
        settings.firstBytesTimeout = .seconds(3)
        let gate = FakeGate(settings: settings)
        let channel = try makeChannel(gate)
        try channel.writeInbound(ByteBuffer(string: "CONNECT allowed.test:443 HTTP/1.1\r\n" + credentials + "\r\n"))
        channel.embeddedEventLoop.run()
        _ = try channel.outboundText()
        try channel.writeInbound(ByteBuffer(bytes: [22, 3, 1, 0, 200, 1]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(!channel.isActive)
        #expect(gate.events.last?.rejectedBy == "tunnel-first-bytes")
    }
}

@Suite struct TunnelIdleTests {
    @Test func anIdleTunnelIsClosed() throws {
        var settings = ProxySettings()
        settings.tunnelIdleTimeout = .seconds(30)
        let gate = FakeGate(settings: settings)
        let channel = EmbeddedChannel()
        try HTTPProxy.install(on: channel, env: gate.env)
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 5555)).wait()
        try channel.writeInbound(ByteBuffer(string: "CONNECT allowed.test:22 HTTP/1.1\r\n" + credentials + "\r\nSSH-2.0-c\r\n"))
        channel.embeddedEventLoop.run()
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(15))
        #expect(!channel.isActive)
        channel.embeddedEventLoop.run()
        #expect(gate.events.count == 1 && gate.open == 0)
    }
}
