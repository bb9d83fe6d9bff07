import NIOCore
import NIOEmbedded
import PortcullisAudit
import PortcullisPolicy
import Testing
@testable import PortcullisProxy

/// A minimal TLS 1.2-framed ClientHello carrying `sni` (none when nil).
func clientHello(sni: String?) -> [UInt8] {
    func u16(_ n: Int) -> [UInt8] { [UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
    var extensions: [UInt8] = []
    if let sni {
        let name = Array(sni.utf8)
        let list: [UInt8] = [0] + u16(name.count) + name
        extensions += [0, 0] + u16(list.count + 2) + u16(list.count) + list
    }
    var body: [UInt8] = [3, 3] + [UInt8](repeating: 7, count: 32) + [0]
    body += u16(2) + [0x13, 0x01] + [1, 0]
    body += u16(extensions.count) + extensions
    let handshake: [UInt8] = [1, 0] + u16(body.count) + body
    return [0x16, 3, 1] + u16(handshake.count) + handshake
}

@Suite struct TransparentHandlerTests {
    static let apiRule = Rule(id: "rul_api", action: .allow, host: try! HostParser.parsePattern("api.test"), methods: ["GET"])
    static let ipRule = Rule(id: "rul_ip", action: .allow, host: try! HostParser.parsePattern("127.0.0.4"))

    func makeGate(mode: Mode = .allowlist) -> FakeGate {
        FakeGate(mode: mode, extraRules: [Self.apiRule, Self.ipRule])
    }

    /// A redirected connection from `source` whose original destination is `destination`.
    func makeChannel(_ gate: FakeGate, to destination: String?, port: UInt16 = 443,
                     source: String = FakeGate.sandboxSource) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        channel.localAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 3129)
        let original = destination.flatMap(HostParser.parseAddress).map { OriginalDestination(address: $0, port: port) }
        try TransparentProxy.install(on: channel, env: gate.env, destination: original)
        try channel.connect(to: SocketAddress(ipAddress: source, port: 40000)).wait()
        channel.embeddedEventLoop.run()
        return channel
    }

    func ip(_ text: String) -> IPAddress { HostParser.parseAddress(text)! }

    @Test func anAllowedSNIDialsExactlyTheOriginalAddressAndForwardsTheHelloUnchanged() throws {
        let gate = makeGate()
        let channel = try makeChannel(gate, to: "127.0.0.1")
        // The bare address is not allowed in allowlist mode: nothing is dialled before the SNI.
        #expect(gate.upstreams.isEmpty)
        let hello = clientHello(sni: "allowed.test")
        try channel.writeInbound(ByteBuffer(bytes: hello))
        channel.embeddedEventLoop.run()
        try #require(gate.upstreams.count == 1)
        let upstream = gate.upstreams[0]
        #expect(upstream.remoteAddress?.ipAddress == "127.0.0.1")
        #expect(upstream.remoteAddress?.port == 443)
        #expect(try upstream.outboundBytes() == hello)
        #expect(gate.tracked.count == 1)
        #expect(gate.tracked.first?.target.host.description == "allowed.test")
        try upstream.writeInbound(ByteBuffer(string: "server hello"))
        #expect(try channel.outboundText() == "server hello")
        _ = try? channel.finish()
        let event = try #require(gate.events.last)
        #expect(event.via == .transparent)
        #expect(event.action == .allow)
        #expect(event.ruleID == "rul_allow")
        #expect(event.host == "allowed.test")
        #expect(event.sni == "allowed.test")
        #expect(event.address == "127.0.0.1")
        #expect(event.port == 443)
        #expect(event.sandboxID == "sbx_t")
        #expect(event.bytesUp == Int64(hello.count))
        #expect(event.bytesDown == 12)
        #expect(gate.events.count == 1)
        #expect(gate.open == 0)
    }

    @Test func aDeniedSNIIsClosedAndLoggedWithoutDialling() throws {
        let gate = makeGate()
        let channel = try makeChannel(gate, to: "127.0.0.2")
        try channel.writeInbound(ByteBuffer(bytes: clientHello(sni: "denied.test")))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        #expect(gate.upstreams.isEmpty)
        #expect(try channel.outboundBytes().isEmpty)
        let event = try #require(gate.events.last)
        #expect(event.via == .transparent)
        #expect(event.action == .reject)
        #expect(event.rejectedBy == "rul_deny")
        #expect(event.host == "denied.test")
        #expect(event.sni == "denied.test")
        #expect(event.address == "127.0.0.2")
        #expect(!event.joinsPending)
    }

    @Test func anAllowedSNISentToAnotherNamesAddressIsAnAddressMismatch() throws {
        let gate = makeGate()
        gate.dnsAnswers = ["denied.test": [ip("127.0.0.2")]]
        let channel = try makeChannel(gate, to: "127.0.0.2")
        try channel.writeInbound(ByteBuffer(bytes: clientHello(sni: "allowed.test")))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        #expect(gate.upstreams.isEmpty)
        let event = try #require(gate.events.last)
        #expect(event.action == .reject)
        #expect(event.rejectedBy == "address-mismatch")
        #expect(event.host == "allowed.test")
        #expect(event.address == "127.0.0.2")
    }

    @Test func aNameInThisSandboxsDNSAnswersNeedsNoFreshLookup() throws {
        let gate = makeGate()
        // Not in the fake resolver's table: only the DNS answers say api.test is 127.0.0.3.
        gate.dnsAnswers = ["api.test": [ip("127.0.0.3")]]
        let channel = try makeChannel(gate, to: "127.0.0.3", port: 80)
        try channel.writeInbound(ByteBuffer(string: "GET /v1/models?key=secret HTTP/1.1\r\nHost: api.test\r\n\r\n"))
        channel.embeddedEventLoop.run()
        try #require(gate.upstreams.count == 1)
        #expect(try gate.upstreams[0].outboundText().hasPrefix("GET /v1/models"))
        _ = try? channel.finish()
        let event = try #require(gate.events.last)
        #expect(event.action == .allow)
        #expect(event.ruleID == "rul_api")
        #expect(event.host == "api.test")
        #expect(event.method == "GET")
        #expect(event.path == "/v1/models")
        #expect(event.sni == nil)
    }

    @Test func endpointRulesApplyToTheFirstPlainHTTPRequest() throws {
        let gate = makeGate()
        gate.dnsAnswers = ["api.test": [ip("127.0.0.3")]]
        let channel = try makeChannel(gate, to: "127.0.0.3", port: 80)
        try channel.writeInbound(ByteBuffer(string: "POST /v1/models HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try channel.outboundText().hasPrefix("HTTP/1.1 403 Forbidden"))
        #expect(try gate.upstreams.first?.outboundBytes().isEmpty ?? true, "nothing of the refused request goes upstream")
        let event = try #require(gate.events.last)
        #expect(event.rejectedBy == "endpoint-not-allowed")
        #expect(event.method == "POST")
    }

    @Test func aServerFirstConnectionIsDecidedOnTheDNSAttributedNameAndDialledAtOnce() throws {
        let gate = makeGate()
        gate.dnsAnswers = ["allowed.test": [ip("127.0.0.1")]]
        let channel = try makeChannel(gate, to: "127.0.0.1", port: 25)
        // No client byte yet, and the upstream is already there, its banner flowing.
        try #require(gate.upstreams.count == 1)
        let upstream = gate.upstreams[0]
        try upstream.writeInbound(ByteBuffer(string: "220 mail ready\r\n"))
        #expect(try channel.outboundText() == "220 mail ready\r\n")
        try channel.writeInbound(ByteBuffer(string: "EHLO sandbox\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try upstream.outboundText() == "EHLO sandbox\r\n")
        _ = try? channel.finish()
        let event = try #require(gate.events.last)
        #expect(event.action == .allow)
        #expect(event.host == "allowed.test")
        #expect(event.address == "127.0.0.1")
        #expect(event.port == 25)
        #expect(event.sni == nil)
    }

    @Test func aServerFirstConnectionToAnAllowedIPLiteralIsDialledAtOnce() throws {
        let gate = makeGate()
        let channel = try makeChannel(gate, to: "127.0.0.4", port: 22)
        try #require(gate.upstreams.count == 1)
        try gate.upstreams[0].writeInbound(ByteBuffer(string: "SSH-2.0-test\r\n"))
        #expect(try channel.outboundText() == "SSH-2.0-test\r\n")
        _ = try? channel.finish()
        let event = try #require(gate.events.last)
        #expect(event.action == .allow)
        #expect(event.ruleID == "rul_ip")
        #expect(event.host == "127.0.0.4")
    }

    @Test func aSilentConnectionToAnUnallowedAddressIsRejectedAtTheDeadlineAndJoinsPending() throws {
        let gate = makeGate()
        let channel = try makeChannel(gate, to: "127.0.0.9", port: 5432)
        #expect(gate.upstreams.isEmpty)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: gate.settings.firstBytesTimeout)
        #expect(!channel.isActive)
        #expect(gate.upstreams.isEmpty)
        let event = try #require(gate.events.last)
        #expect(event.action == .reject)
        #expect(event.rejectedBy == "default-deny")
        #expect(event.host == "127.0.0.9")
        #expect(event.port == 5432)
        #expect(event.joinsPending)
    }

    @Test func anAllowlistNoRuleRejectionOfANameJoinsPendingWithTheDestinationPort() throws {
        let gate = makeGate()
        gate.dnsAnswers = ["other.test": [ip("127.0.0.8")]]
        let channel = try makeChannel(gate, to: "127.0.0.8", port: 8443)
        try channel.writeInbound(ByteBuffer(bytes: clientHello(sni: "other.test")))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        let event = try #require(gate.events.last)
        #expect(event.rejectedBy == "default-deny")
        #expect(event.host == "other.test")
        #expect(event.port == 8443)
        #expect(event.joinsPending)
    }

    @Test func aClientHelloWithoutSNIToADNSAttributedNameIsRejectedAsTheProxyWould() throws {
        let gate = makeGate()
        gate.dnsAnswers = ["allowed.test": [ip("127.0.0.1")]]
        let channel = try makeChannel(gate, to: "127.0.0.1")
        #expect(gate.upstreams.count == 1)
        try channel.writeInbound(ByteBuffer(bytes: clientHello(sni: nil)))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        #expect(try gate.upstreams[0].outboundBytes().isEmpty)
        #expect(gate.events.last?.rejectedBy == "sni-mismatch" && gate.events.last?.reason.contains("no server name") == true)
    }

    @Test func anUnknownSourceIsClosedAndLogged() throws {
        let gate = makeGate()
        let channel = try makeChannel(gate, to: "127.0.0.1", source: "10.1.2.3")
        #expect(!channel.isActive)
        #expect(gate.upstreams.isEmpty)
        let event = try #require(gate.events.last)
        #expect(event.via == .transparent)
        #expect(event.action == .reject)
        #expect(event.rejectedBy == "unknown-source")
        #expect(event.address == "127.0.0.1")
        #expect(event.sandboxID == nil)
        #expect(gate.open == 0)
    }

    @Test(arguments: [nil, "127.0.0.1:3129"])
    func aConnectionWithoutAnOriginalDestinationIsClosed(destination: String?) throws {
        let gate = makeGate()
        // "127.0.0.1:3129" is the listener's own address: the connection was not redirected.
        let channel = try makeChannel(gate, to: destination == nil ? nil : "127.0.0.1", port: 3129)
        #expect(!channel.isActive)
        #expect(gate.upstreams.isEmpty)
        #expect(gate.events.last?.rejectedBy == "no-original-destination")
    }

    @Test func theGuardRunsOnTheOriginalAddressEvenForAnAllowedName() throws {
        let gate = makeGate()
        gate.dnsAnswers = ["allowed.test": [ip("10.0.0.1")]]
        let channel = try makeChannel(gate, to: "10.0.0.1")
        #expect(gate.upstreams.isEmpty)
        try channel.writeInbound(ByteBuffer(bytes: clientHello(sni: "allowed.test")))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        #expect(gate.upstreams.isEmpty)
        let event = try #require(gate.events.last)
        #expect(event.rejectedBy?.hasPrefix("guard:") == true)
        #expect(event.address == "10.0.0.1")
    }

    @Test func aPolicyChangeSeesTheTargetTheFirstBytesNamed() throws {
        let gate = makeGate()
        gate.dnsAnswers = ["allowed.test": [ip("127.0.0.1")]]
        let channel = try makeChannel(gate, to: "127.0.0.1")
        try channel.writeInbound(ByteBuffer(bytes: clientHello(sni: "allowed.test")))
        channel.embeddedEventLoop.run()
        let live = try #require(gate.tracked.first)
        #expect(live.target.host.description == "allowed.test")
        let stricter = CompiledPolicy(mode: .isolated, rules: [], version: 8, addressGuard: AddressGuard())
        let decision = live.decision(under: stricter)
        #expect(decision.verdict == .reject)
        live.close(because: decision)
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        #expect(gate.events.last?.reason.contains("policy version 8") == true)
    }

    @Test func theSandboxConnectionLimitApplies() throws {
        var settings = ProxySettings()
        settings.maxConnectionsPerSandbox = 0
        let gate = FakeGate(settings: settings)
        let channel = try makeChannel(gate, to: "127.0.0.1")
        #expect(!channel.isActive)
        #expect(gate.events.last?.rejectedBy == "sandbox-connection-limit")
    }

    // MARK: plain HTTP: every request parsed, decided, re-framed and logged on its own

    /// A redirected plain-HTTP connection to api.test (GET-only rule) whose first request,
    /// `GET /a` with a 3-byte body, went upstream re-framed; the response is answered.
    func httpConnection(_ gate: FakeGate) throws -> (EmbeddedChannel, EmbeddedChannel) {
        gate.dnsAnswers = ["api.test": [ip("127.0.0.3")]]
        let channel = try makeChannel(gate, to: "127.0.0.3", port: 80)
        try channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: api.test\r\nContent-Length: 3\r\n\r\nxyz"))
        channel.embeddedEventLoop.run()
        let upstream = try #require(gate.upstreams.first)
        let sent = try upstream.outboundText()
        #expect(sent.hasPrefix("GET /a HTTP/1.1\r\n") && sent.contains("Content-Length: 3\r\n") && sent.hasSuffix("\r\n\r\nxyz"))
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        #expect(try channel.outboundText().hasSuffix("ok"))
        return (channel, upstream)
    }

    @Test func laterRequestsToTheSameHostWithinTheEndpointRulePassEachOnItsOwnLine() throws {
        let gate = makeGate()
        let (channel, upstream) = try httpConnection(gate)
        try channel.writeInbound(ByteBuffer(string: "GET /b?token=secret HTTP/1.1\r\nHost: api.test\r\n\r\n"))
        let sent = try upstream.outboundText()
        #expect(sent.hasPrefix("GET /b?token=secret HTTP/1.1\r\n") && sent.contains("Host: api.test\r\n"))
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(channel.isActive)
        _ = try? channel.finish()
        #expect(gate.events.map(\.path) == ["/a", "/b"])
        #expect(gate.events.allSatisfy { $0.action == .allow && $0.via == .transparent && $0.address == "127.0.0.3" })
        #expect(gate.events.map(\.status) == [200, 204])
    }

    @Test func aLaterRequestNamingAnotherHostIsRefusedOnItsOwnLineAndNeverGoesUpstream() throws {
        let gate = makeGate()
        let (channel, upstream) = try httpConnection(gate)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try channel.outboundText().contains("X-Portcullis-Reason: host-mismatch"))
        #expect(try upstream.outboundBytes().isEmpty)
        #expect(channel.isActive, "the connection stays usable for the next request")
        let rejected = try #require(gate.events.first { $0.action == .reject })
        #expect(rejected.rejectedBy == "host-mismatch" && rejected.via == .transparent && rejected.status == 403)
    }

    @Test func aRequestOutsideTheEndpointRuleIsRefusedWith403AndNeverGoesUpstream() throws {
        let gate = makeGate()
        let (channel, upstream) = try httpConnection(gate)
        try channel.writeInbound(ByteBuffer(string: "DELETE /a HTTP/1.1\r\nHost: api.test\r\n\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try channel.outboundText().hasPrefix("HTTP/1.1 403 Forbidden"))
        #expect(try upstream.outboundBytes().isEmpty)
        let rejected = try #require(gate.events.first { $0.action == .reject })
        #expect(rejected.rejectedBy == "endpoint-not-allowed" && rejected.method == "DELETE" && rejected.address == "127.0.0.3")
    }

    @Test func aBodyThatLooksLikeARequestIsForwardedAsTheBodyItIs() throws {
        let gate = makeGate()
        gate.dnsAnswers = ["api.test": [ip("127.0.0.3")]]
        let channel = try makeChannel(gate, to: "127.0.0.3", port: 80)
        let smuggled = "DELETE /admin HTTP/1.1\r\nHost: evil.test\r\n\r\n"
        try channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(smuggled.utf8.count, radix: 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let sent = try #require(gate.upstreams.first).outboundText()
        // Re-framed as chunked, the smuggled text inside one chunk: one request upstream.
        let head = String(sent.split(separator: "\r\n\r\n", maxSplits: 1)[0])
        #expect(sent.hasPrefix("GET /a HTTP/1.1\r\n") && head.lowercased().contains("transfer-encoding: chunked"))
        #expect(sent.hasSuffix(String(smuggled.utf8.count, radix: 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n"), "\(sent)")
    }

    @Test(arguments: [
        "POST / HTTP/1.1\r\nHost: api.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: api.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "GET /a;x=y HTTP/1.1\r\nHost: api.test\r\n\r\n",
        "GET /%2e%2e/%2e%2e/etc HTTP/1.1\r\nHost: api.test\r\n\r\n",
    ])
    func framingOrPathsThatCannotBeTrustedAre400AndNothingGoesUpstream(stream: String) throws {
        let gate = makeGate()
        gate.dnsAnswers = ["api.test": [ip("127.0.0.3")]]
        let channel = try makeChannel(gate, to: "127.0.0.3", port: 80)
        try channel.writeInbound(ByteBuffer(string: stream))
        channel.embeddedEventLoop.run()
        #expect(try channel.outboundText().hasPrefix("HTTP/1.1 400 Bad Request"))
        #expect(try gate.upstreams.first?.outboundBytes().isEmpty ?? true)
        #expect(!channel.isActive)
        #expect(gate.events.last?.rejectedBy == "bad-request")
    }

    @Test func anUpgradeIsNotForwardedSoLaterBytesStayHTTP() throws {
        let gate = makeGate()
        gate.dnsAnswers = ["api.test": [ip("127.0.0.3")]]
        let channel = try makeChannel(gate, to: "127.0.0.3", port: 80)
        try channel.writeInbound(ByteBuffer(string: "GET /ws HTTP/1.1\r\nHost: api.test\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let sent = try #require(gate.upstreams.first).outboundText().lowercased()
        #expect(!sent.contains("upgrade"))
    }
}

extension TransparentHandlerTests {
    @Test func aRedirectedConnectionToOneOfTheGatewaysListenersIsRefused() throws {
        let gate = makeGate()
        gate.listeners.add([.init(address: ip("0.0.0.0"), port: 3128)])
        // 127.0.0.4 is allowed by rule (rul_ip), and loopback is exempt from the guard: still not the proxy's port.
        let channel = try makeChannel(gate, to: "127.0.0.4", port: 3128)
        channel.embeddedEventLoop.run()
        #expect(gate.upstreams.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(!channel.isActive)
        #expect(gate.events.last?.rejectedBy == "guard:gateway-listener")
    }
}
