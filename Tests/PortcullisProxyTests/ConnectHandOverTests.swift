import NIOCore
import NIOEmbedded
import NIOHTTP1
import PortcullisAudit
import PortcullisPolicy
import Testing
@testable import PortcullisProxy

/// A CONNECT's HTTP handlers stay behind its tunnel until the first bytes are judged: the
/// tunnel's HTTP stream if they are HTTP (every request still decided and re-framed), gone
/// for anything else.
@Suite struct ConnectHandOverTests {
    /// A client connection whose CONNECT to allowed.test:`port` was answered 200; the
    /// stream handler it was accepted with.
    func tunnel(_ gate: FakeGate, port: Int) throws -> (EmbeddedChannel, HTTPStreamHandler) {
        let channel = try gate.forwardChannel()
        let stream = try channel.pipeline.syncOperations.handler(type: HTTPStreamHandler.self)
        try channel.writeInbound(ByteBuffer(string: "CONNECT allowed.test:\(port) HTTP/1.1\r\n" + credentials + "\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try channel.outboundText() == "HTTP/1.1 200 Connection Established\r\n\r\n")
        return (channel, stream)
    }

    @Test func anHTTPTunnelIsServedByTheConnectsOwnStreamAndCountsOnlyItsBytes() throws {
        let gate = FakeGate()
        gate.generation = 1  // the CONNECT's identity may be kept…
        let (channel, stream) = try tunnel(gate, port: 80)
        #expect(channel.has(TunnelHandler.self))
        // …but nothing of forward mode stays for the tunnel's life (memory per idle tunnel).
        #expect(stream.forwardUpstreams == nil)

        let first = "GET /a HTTP/1.1\r\nHost: allowed.test\r\nX-Hop: 1\r\nConnection: X-Hop\r\n\r\n"
        try channel.writeInbound(ByteBuffer(string: first))
        channel.embeddedEventLoop.run()
        #expect(try channel.pipeline.syncOperations.handler(type: HTTPStreamHandler.self) === stream)
        #expect(!channel.has(TunnelHandler.self))
        let upstream = try #require(gate.upstreams.first)
        let sent = try upstream.outboundText()
        #expect(sent.hasPrefix("GET /a HTTP/1.1\r\n") && !sent.lowercased().contains("x-hop"), "re-framed: \(sent)")
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        let answer = try channel.outboundText()
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n") && answer.hasSuffix("ok"))

        // The next request on the stream is decided on its own: another host is refused.
        let second = "GET /b HTTP/1.1\r\nHost: denied.test\r\n\r\n"
        try channel.writeInbound(ByteBuffer(string: second))
        channel.embeddedEventLoop.run()
        #expect(try channel.outboundText().contains("X-Portcullis-Reason: host-mismatch"))
        #expect(try upstream.outboundText() == "")

        _ = try? channel.close().wait()
        channel.embeddedEventLoop.run()
        let requests = gate.events.filter { $0.path != nil }
        #expect(requests.map(\.path) == ["/a", "/b"] && requests.map(\.action) == [.allow, .reject])
        // The tunnel's line: the CONNECT's head is not its bytes, both requests are.
        let line = try #require(gate.events.last)
        #expect(line.path == nil && line.status == 200 && line.bytesUp == Int64(first.utf8.count + second.utf8.count))
        #expect(line.bytesDown == 2)
        #expect(gate.tracked.isEmpty && gate.open == 0)
    }

    @Test func aServerThatSpeaksFirstEndsTheWaitOfTheHTTPHandlers() throws {
        let gate = FakeGate()
        let (channel, _) = try tunnel(gate, port: 25)
        #expect(channel.has(HTTPStreamHandler.self), "kept while no byte was judged")
        let upstream = try #require(gate.upstreams.first)
        try upstream.writeInbound(ByteBuffer(string: "220 mail.test ESMTP\r\n"))
        #expect(try channel.outboundText() == "220 mail.test ESMTP\r\n")
        #expect(channel.keepsNoHTTPHandler)
        try channel.writeInbound(ByteBuffer(string: "EHLO sandbox\r\n"))
        #expect(try upstream.outboundText() == "EHLO sandbox\r\n")
    }

    @Test func httpAfterTheServerSpokeStillGetsAStreamOfItsOwn() throws {
        let gate = FakeGate()
        let (channel, original) = try tunnel(gate, port: 80)
        let upstream = try #require(gate.upstreams.first)
        try upstream.writeInbound(ByteBuffer(string: "hello\r\n"))
        #expect(try channel.outboundText() == "hello\r\n")
        try channel.writeInbound(ByteBuffer(string: "GET /c HTTP/1.1\r\nHost: denied.test\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let stream = try channel.pipeline.syncOperations.handler(type: HTTPStreamHandler.self)
        #expect(stream !== original)
        #expect(try channel.outboundText().contains("X-Portcullis-Reason: host-mismatch"))
        #expect(try upstream.outboundText() == "")
        #expect(gate.events.last?.path == "/c" && gate.events.last?.action == .reject)
    }
}

/// A keep-alive stream reuses the reason text of a decision its previous entry had, and
/// builds it again for any other decision.
@Suite struct RepeatedDecisionReasonTests {
    @Test func everyEntryOfAKeepAliveStreamHasItsOwnDecisionsReason() throws {
        let gate = FakeGate()
        let channel = try gate.forwardChannel()
        var expected: [String] = []
        for (host, path) in [("allowed.test", "/a"), ("allowed.test", "/b"), ("denied.test", "/c"), ("allowed.test", "/d"),
                             ("allowed.test", "/e")] {
            try channel.writeInbound(ByteBuffer(string: "GET http://\(host)\(path) HTTP/1.1\r\nHost: \(host)\r\n" + credentials + "\r\n"))
            channel.embeddedEventLoop.run()
            let target = Target(host: try HostParser.parseTarget(host), port: 80, transport: .tcp,
                                request: .visible(RequestLine(method: "GET", path: path)))
            expected.append(gate.policy.decide(target).reason)
            if host == "allowed.test" {
                let upstream = gate.upstreams.last
                _ = try upstream?.outboundText()
                try upstream?.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
            }
            _ = try channel.outboundText()
        }
        #expect(gate.upstreams.count == 2, "kept between requests to one host (the other host's request drops it)")
        #expect(gate.events.map(\.reason) == expected)
        #expect(gate.events.map(\.action) == [.allow, .allow, .reject, .allow, .allow])
        #expect(expected[0].contains("allowed.test") && expected[2].contains("denied.test") && expected[2] != expected[3])
        // The text was kept (from the second decided request on), for the last decision.
        let stream = try channel.pipeline.syncOperations.handler(type: HTTPStreamHandler.self)
        #expect(stream.reasonMemo?.text == expected[4])
        _ = try? channel.finish()
    }
}

extension EmbeddedChannel {
    func has<H: ChannelHandler>(_ type: H.Type) -> Bool {
        (try? pipeline.syncOperations.handler(type: type)) != nil
    }

    /// None of the HTTP handlers a relayed tunnel must not keep.
    var keepsNoHTTPHandler: Bool {
        !has(HTTPStreamHandler.self) && !has(HeadGuard.self) && !has(HTTPResponseEncoder.self)
            && !has(ByteToMessageHandler<HTTPRequestDecoder>.self)
    }
}
