import Foundation
import NIOCore
import PortcullisModel
import PortcullisPolicy
import Testing

/// The findings of the connection-core issue, each tried the way it was found: raw bytes
/// against the running gateway, an upstream that records exactly what reached it, and the
/// audit log. The upstream's own HTTP parser stands for the server a smuggled request
/// would have fooled: any request it parses must have been decided and logged.
@Suite(.serialized) struct AttackTests {
    static let auth = "Proxy-Authorization: Basic " + Data("\(Fixtures.sandboxID):\(Fixtures.token)".utf8).base64EncodedString() + "\r\n"
    static let smuggled = "DELETE /admin/users HTTP/1.1\r\nHost: evil.test\r\n\r\n"

    /// Writes `text` to the proxy port and returns what came back before the close (or `timeout`).
    func send(_ h: Harness, _ text: String, port: Int? = nil, timeout: TimeAmount = .seconds(2)) async throws -> String {
        try await RawClient.exchange(port: port ?? h.httpPort, [text.bytes], timeout: timeout)
    }

    /// Every request the upstream parsed went to allowed.test and has its own allow entry.
    func expectEveryUpstreamRequestDecided(_ h: Harness, via: AuditVia? = nil, sourceLocation: SourceLocation = #_sourceLocation) async {
        let open = await h.waitForNoConnections(seconds: 15)
        #expect(open == 0, "connections still open after 15 s", sourceLocation: sourceLocation)
        await h.settleAudit()
        let received = h.upstreams.received.requests
        var allows = h.audit.all.filter { $0.action != .reject && $0.action != .error && $0.method != nil }
        for request in received {
            #expect(request.host?.hasPrefix("allowed.test") == true || request.host?.hasPrefix("api.test") == true,
                    "the upstream served \(request.method) \(request.uri) for Host \(request.host ?? "-")", sourceLocation: sourceLocation)
            let path = String(request.uri.prefix { $0 != "?" })
            if let i = allows.firstIndex(where: { $0.method == request.method && $0.path == path && (via == nil || $0.via == via) }) {
                allows.remove(at: i)
            } else {
                let near = h.audit.all.filter { ($0.path ?? "").contains(path) }.map { "\($0.action) \($0.method ?? "-") \($0.path ?? "-") \($0.via) \($0.reason ?? "")" }
                Issue.record("the upstream served \(request.method) \(request.uri) with no allow entry in the audit; entries for it: \(near); request: \(request)",
                             sourceLocation: sourceLocation)
            }
        }
    }

    /// The test upstream answers at a request's head, so its record of the body can trail the
    /// reply the client already has (the body may come in a later segment): wait for it, bounded.
    static func untilUpstreamBody(_ h: Harness, _ body: String) async {
        for _ in 0..<100 where h.upstreams.received.requests.first?.body != body {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: 1. Smuggling through the forward proxy

    @Test func aChunkedBodyHoldingARequestIsReframedNotPassedRaw() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let chunk = String(Self.smuggled.utf8.count, radix: 16) + "\r\n" + Self.smuggled + "\r\n0\r\n\r\n"
            let reply = try await send(h, "GET http://allowed.test:\(port)/public/x HTTP/1.1\r\nHost: allowed.test:\(port)\r\n"
                + Self.auth + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunk)
            #expect(reply.hasPrefix("HTTP/1.1 200"))
            await Self.untilUpstreamBody(h, Self.smuggled)
            let received = h.upstreams.received.requests
            #expect(received.map(\.method) == ["GET"], "\(received)")
            #expect(received.first?.body == Self.smuggled, "the smuggled text stays the body it was")
            #expect(h.upstreams.received.raw.lowercased().contains("transfer-encoding: chunked"))
            await expectEveryUpstreamRequestDecided(h)
        }
    }

    @Test(arguments: ["POST", "TRACE", "GET"])
    func aContentLengthNamedInConnectionStillFramesTheBody(method: String) async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let reply = try await send(h, "\(method) http://allowed.test:\(port)/public/x HTTP/1.1\r\nHost: allowed.test:\(port)\r\n"
                + Self.auth + "Connection: close, Content-Length\r\nContent-Length: \(Self.smuggled.utf8.count)\r\n\r\n" + Self.smuggled)
            #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
            #expect(h.upstreams.received.requests.map(\.method) == [method])
            await Self.untilUpstreamBody(h, Self.smuggled)
            #expect(h.upstreams.received.requests.first?.body == Self.smuggled)
            await expectEveryUpstreamRequestDecided(h)
        }
    }

    @Test(arguments: [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: +5\r\n",
    ])
    func ambiguousFramingIsRefusedWith400(framing: String) async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let reply = try await send(h, "POST http://allowed.test:\(port)/public/x HTTP/1.1\r\nHost: allowed.test:\(port)\r\n"
                + Self.auth + framing + "\r\nhello" + Self.smuggled)
            #expect(reply.hasPrefix("HTTP/1.1 400"), "\(framing.debugDescription): \(reply)")
            #expect(h.upstreams.received.requests.isEmpty)
        }
    }

    // MARK: 2. Plain HTTP inside a CONNECT tunnel

    @Test(arguments: [
        "GET /two HTTP/1.1\r\nHost: evil.test\r\n\r\n",
        "\r\n\r\nGET /two HTTP/1.1\r\nHost: evil.test\r\n\r\n",
        "GET /two HTTP/1.1\r\nX-A: 1\nHost: evil.test\r\n\r\n",
        "GET /two HTTP/1.1\r\nHost : evil.test\r\n\r\n",
        "GET http://evil.test/two HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
        "GET /two HTTP/1.0\r\n\r\n",
        "get /two HTTP/1.1\r\nHost: evil.test\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "GET /two HTTP/1.1\r\nHost: allowed.test\r\nHost: evil.test\r\n\r\n",
    ])
    func aSecondRequestInATunnelIsDecidedOnItsOwn(second: String) async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let reply = try await send(h, "CONNECT allowed.test:\(port) HTTP/1.1\r\n" + Self.auth + "\r\n"
                + "GET /one HTTP/1.1\r\nHost: allowed.test:\(port)\r\n\r\n" + second, timeout: .seconds(1))
            #expect(reply.hasPrefix("HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200 OK"), "\(reply)")
            #expect(!h.upstreams.received.requests.contains { $0.host?.contains("evil") == true })
            await expectEveryUpstreamRequestDecided(h, via: .connect)
            // The tunnel's own line and the first request's.
            #expect(h.audit.all.contains { $0.via == .connect && $0.method == nil && $0.action == .allow })
            #expect(h.audit.all.contains { $0.via == .connect && $0.path == "/one" && $0.status == 200 })
        }
    }

    @Test func aTunnelRequestForAnotherHostGets403AndTheTunnelGoesOn() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let reply = try await send(h, "CONNECT allowed.test:\(port) HTTP/1.1\r\n" + Self.auth + "\r\n"
                + "GET /one HTTP/1.1\r\nHost: evil.test\r\n\r\nGET /two HTTP/1.1\r\nHost: allowed.test:\(port)\r\nConnection: close\r\n\r\n")
            #expect(reply.contains("HTTP/1.1 403 Forbidden") && reply.contains("X-Portcullis-Reason: host-mismatch"))
            #expect(reply.contains("upstream plain GET /two"))
            #expect(h.upstreams.received.requests.map(\.uri) == ["/two"])
            #expect(await h.event { $0.rejectedBy == "host-mismatch" && $0.via == .connect && $0.status == 403 } != nil)
        }
    }

    // MARK: 3. The first bytes of a tunnel

    @Test func anSSLv2HelloOrAnAlertBeforeTheHelloIsRefused() async throws {
        try await withHarness { h in
            let port = h.upstreams.tlsPort
            let v2: [UInt8] = [0x80, 0x2E, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10] + Array(repeating: 0x41, count: 37)
            let alertThenHello: [UInt8] = [21, 3, 3, 0, 2, 1, 0] + clientHelloBytes(sni: "other.test")
            for bytes in [v2, alertThenHello] {
                let reply = try await RawClient.exchangeBytes(port: h.httpPort, [
                    ("CONNECT tls.test:\(port) HTTP/1.1\r\n" + Self.auth + "\r\n").bytes, bytes,
                ], timeout: .seconds(3))
                #expect(String(decoding: reply, as: UTF8.self) == "HTTP/1.1 200 Connection Established\r\n\r\n",
                        "nothing of the upstream's reaches the client")
            }
            #expect(await h.events(count: 2) { $0.rejectedBy == "tunnel-first-bytes" }.count == 2)
        }
    }

    // MARK: 4. The gateway's own listeners

    @Test func theGatewaysOwnListenersAreNeverReachableThroughIt() async throws {
        try await withHarness { h in
            // rul_loop allows 127.0.0.1 and the guard exempts loopback: still not the proxy itself.
            for target in ["127.0.0.1:\(h.httpPort)", "127.0.0.1:\(h.socksPort)"] {
                let reply = try await send(h, "CONNECT \(target) HTTP/1.1\r\n" + Self.auth + "\r\n")
                #expect(reply.hasPrefix("HTTP/1.1 403") && reply.contains("guard:gateway-listener"), "\(target): \(reply)")
            }
            let reply = try await send(h, "GET http://127.0.0.1:\(h.socksPort)/metrics HTTP/1.1\r\nHost: 127.0.0.1:\(h.socksPort)\r\n"
                + Self.auth + "Connection: close\r\n\r\n")
            #expect(reply.hasPrefix("HTTP/1.1 403") && reply.contains("guard:gateway-listener"))
            #expect(await h.events(count: 3) { $0.rejectedBy == "guard:gateway-listener" }.count == 3)
        }
    }

    // MARK: 5. Characters the encoder would refuse

    @Test(arguments: ["<", "\"", "{", "|", "^", "`"])
    func aTargetWithCharactersOutsideRFC3986Is400AtOnce(character: String) async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let started = Date()
            let reply = try await send(h, "GET http://allowed.test:\(port)/a\(character)b HTTP/1.1\r\nHost: allowed.test:\(port)\r\n"
                + Self.auth + "\r\n", timeout: .seconds(5))
            #expect(reply.hasPrefix("HTTP/1.1 400"), "\(character): \(reply)")
            #expect(Date().timeIntervalSince(started) < 4, "the client was answered, not left hanging")
            #expect(h.upstreams.received.requests.isEmpty)
            #expect(await h.event { $0.action == .error && $0.rejectedBy == "bad-request" } != nil)
            #expect(!h.audit.all.contains { $0.action == .allow })
        }
    }

    // MARK: 6. SOCKS5 tunnels and server-first protocols

    @Test func aSOCKSTunnelToAServerFirstProtocolSurvivesClientSilence() async throws {
        let banner = try await BannerServer.start(banner: "SSH-2.0-server\r\n")
        do {
            try await withHarness { h in
                let (channel, received, _) = try await RawClient.open(port: h.socksPort)
                try await channel.writeAndFlush(ByteBuffer(bytes: socksHello() + socksRequest(ipv4: [127, 0, 0, 1], port: banner.port)))
                try await Task.sleep(for: .seconds(3.5))  // longer than the first-bytes deadline
                #expect(channel.isActive, "the tunnel stays open while the client is silent")
                try await channel.writeAndFlush(ByteBuffer(string: "SSH-2.0-client\r\n"))
                try await Task.sleep(for: .milliseconds(300))
                try await channel.close()
                let bytes = String(decoding: try await received.get().readableBytesView, as: UTF8.self)
                #expect(bytes.contains("SSH-2.0-server") && bytes.contains("SSH-2.0-client"))
                let e = try #require(await h.event { $0.via == .socks5 })
                #expect(e.action == .allow && e.rejectedBy == nil, "\(e.reason)")
            }
        } catch {
            await banner.stop()
            throw error
        }
        await banner.stop()
    }

    // MARK: 7. Credentials and query strings never reach the audit store

    @Test func userinfoAndQueriesNeverReachTheAudit() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            _ = try await send(h, "GET http://sbx_a:pxt_secret@allowed.test:\(port)/?api_key=k1 HTTP/1.1\r\nHost: allowed.test\r\n"
                + Self.auth + "\r\n")
            _ = try await send(h, "GET http://allowed.test:\(port)/p?api_key=k2 HTTP/1.1\r\nHost: allowed.test:\(port)\r\n"
                + Self.auth + "Connection: close\r\n\r\n")
            _ = try await send(h, "GET http://allowed.test:\(port)/a<b?api_key=k3 HTTP/1.1\r\n" + Self.auth + "\r\n")
            _ = await h.waitForNoConnections()
            await h.settleAudit()
            #expect(h.audit.all.count >= 3)
            for event in h.audit.all {
                let text = "\(event)"
                #expect(!text.contains("pxt_secret") && !text.contains("api_key"), "\(text)")
            }
            #expect(h.upstreams.received.requests.first?.uri == "/p?api_key=k2", "the query is forwarded unchanged")
        }
    }

    // MARK: 8. Paths: decided in the form forwarded

    @Test func pathsAreDecidedAndForwardedInTheCanonicalForm() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            func get(_ path: String) async throws -> String {
                try await send(h, "GET http://api.test:\(port)\(path) HTTP/1.1\r\nHost: api.test:\(port)\r\n" + Self.auth
                    + "Connection: close\r\n\r\n")
            }
            #expect(try await get("/v1/..;/admin").hasPrefix("HTTP/1.1 400"))
            #expect(try await get("/v1/%252e%252e/admin").hasPrefix("HTTP/1.1 400"))
            #expect(try await get("/v1/%2e%2e/admin").hasPrefix("HTTP/1.1 403"))
            #expect(try await get("/v1/../../etc").hasPrefix("HTTP/1.1 400"))
            let ok = try await get("/admin/../v1/./x//y")
            #expect(ok.contains("upstream plain GET /v1/x/y"), "\(ok)")
            #expect(h.upstreams.received.requests.map(\.uri) == ["/v1/x/y"])
            await expectEveryUpstreamRequestDecided(h)
        }
    }

    // MARK: 9. Pipelining

    @Test func everyPipelinedRequestIsAnsweredInOrderAndLogged() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let head = { (path: String) in "GET http://allowed.test:\(port)\(path) HTTP/1.1\r\nHost: allowed.test:\(port)\r\n" + Self.auth }
            let body = "abc=1"
            let reply = try await send(h, head("/1") + "\r\n" + head("/2") + "\r\n"
                + "POST http://allowed.test:\(port)/3 HTTP/1.1\r\nHost: allowed.test:\(port)\r\n" + Self.auth
                + "Content-Length: \(body.utf8.count)\r\n\r\n" + body + head("/4") + "Connection: close\r\n\r\n")
            let order = ["GET /1", "GET /2", "POST /3", "GET /4"].map { reply.range(of: "upstream plain " + $0)?.lowerBound }
            #expect(order.allSatisfy { $0 != nil }, "\(reply)")
            #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted())
            #expect(h.upstreams.received.requests.first { $0.method == "POST" }?.body == body)
            await expectEveryUpstreamRequestDecided(h)
            #expect(h.audit.all.filter { $0.via == .http && $0.action == .allow }.count == 4)
        }
    }

    // MARK: 10. Closes by policy change; IPv6 clients

    @Test func aTunnelClosedByAPolicyChangeIsLoggedAsPolicyChanged() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let (channel, _, _) = try await RawClient.open(port: h.httpPort)
            try await channel.writeAndFlush(ByteBuffer(string: "CONNECT allowed.test:\(port) HTTP/1.1\r\n" + Self.auth + "\r\n"))
            try await Task.sleep(for: .milliseconds(200))
            h.gateway.registry.update(Fixtures.snapshot(version: 2, rules: Fixtures.rules.filter { $0.id != "rul_allow" }))
            let e = try #require(await h.event { $0.via == .connect && $0.rejectedBy == "policy-changed" })
            #expect(e.action == .reject && e.reason.contains("policy version 2"))
            try? await channel.close()
        }
    }

    @Test func anIPv6ClientIsLoggedInBrackets() async throws {
        try await withHarness(configure: { $0.httpBind = try! SocketAddress(ipAddress: "::1", port: 0) }) { h in
            _ = try await RawClient.exchange(host: "::1", port: h.httpPort,
                                             ["GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n\(Self.auth)\r\n".bytes],
                                             timeout: .seconds(1))
            let e = try #require(await h.event { $0.host == "denied.test" })
            #expect(e.client.hasPrefix("[::1]:"), "\(e.client)")
        }
    }
}

/// A minimal TLS 1.2-framed ClientHello carrying `sni`.
func clientHelloBytes(sni: String) -> [UInt8] {
    func u16(_ n: Int) -> [UInt8] { [UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
    let name = Array(sni.utf8)
    let list: [UInt8] = [0] + u16(name.count) + name
    let extensions: [UInt8] = [0, 0] + u16(list.count + 2) + u16(list.count) + list
    var body: [UInt8] = [3, 3] + [UInt8](repeating: 7, count: 32) + [0]
    body += u16(2) + [0x13, 0x01] + [1, 0]
    body += u16(extensions.count) + extensions
    let handshake: [UInt8] = [1, 0] + u16(body.count) + body
    return [0x16, 3, 1] + u16(handshake.count) + handshake
}

/// Framing variants mixed at random — Content-Length and Transfer-Encoding (right, wrong,
/// both, named in Connection), obs-fold, bare LF, duplicate or spaced Host, pipelining, bodies
/// that hold requests — through the forward proxy and inside CONNECT tunnels. Whatever the
/// mix, every request the upstream's parser finds was decided and logged, and none of them is
/// for another host.
@Suite(.serialized) struct FramingFuzzTests {
    static let smuggled = "GET /smuggled HTTP/1.1\r\nHost: evil.test\r\n\r\n"

    static func request(_ n: Int, port: Int, inTunnel: Bool, rng: inout SystemRandomNumberGenerator) -> String {
        let eol = Int.random(in: 0..<8, using: &rng) == 0 ? "\n" : "\r\n"
        let method = ["GET", "POST", "PUT", "TRACE", "get", "DELETE", "POST"].randomElement(using: &rng)!
        let path = "/fuzz/\(n)"
        let target = inTunnel ? path : "http://allowed.test:\(port)\(path)"
        var lines = ["\(method) \(target) HTTP/1.1"]
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: lines.append("Host: evil.test")
        case 1: break
        case 2: lines += ["Host: allowed.test:\(port)", "Host: evil.test"]
        case 3: lines.append("Host : evil.test")
        case 4: lines += ["X-A: 1\nHost: evil.test", "Host: allowed.test:\(port)"]
        default: lines.append("Host: allowed.test:\(port)")
        }
        if !inTunnel { lines.append(AttackTests.auth.trimmingCharacters(in: .newlines)) }
        let bodyText = Bool.random(using: &rng) ? smuggled : "x=\(n)"
        var body = ""
        switch Int.random(in: 0..<9, using: &rng) {
        case 0: break
        case 1:
            lines.append("Content-Length: \(bodyText.utf8.count)")
            body = bodyText
        case 2:
            lines.append("Content-Length: \(max(0, bodyText.utf8.count - 5))")
            body = bodyText
        case 3:
            lines.append("Transfer-Encoding: chunked")
            body = String(bodyText.utf8.count, radix: 16) + "\r\n" + bodyText + "\r\n0\r\n\r\n"
        case 4:
            lines += ["Content-Length: 3", "Transfer-Encoding: chunked"]
            body = String(bodyText.utf8.count, radix: 16) + "\r\n" + bodyText + "\r\n0\r\n\r\n"
        case 5:
            lines += ["Connection: Content-Length", "Content-Length: \(bodyText.utf8.count)"]
            body = bodyText
        case 6:
            lines += ["Connection: transfer-encoding", "Transfer-Encoding: chunked"]
            body = String(bodyText.utf8.count, radix: 16) + "\r\n" + bodyText + "\r\n0\r\n\r\n"
        case 7:
            lines += ["X-Fold: a", " folded: b", "Content-Length: 0"]
        default:
            lines += ["Transfer-Encoding: gzip, chunked"]
            body = "5\r\nhello\r\n0\r\n\r\n"
        }
        return lines.joined(separator: eol) + eol + eol + body
    }

    @Test func everyRequestTheUpstreamParsesWasDecidedAndLogged() async throws {
        try await withHarness(configure: { $0.proxy.idleTimeout = .milliseconds(600) }) { h in
            let port = h.upstreams.plainPort
            var rng = SystemRandomNumberGenerator()
            var connections: [(port: Int, chunks: [[UInt8]])] = []
            var n = 0
            for _ in 0..<160 {
                let inTunnel = Bool.random(using: &rng)
                var requests: [String] = []
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    requests.append(Self.request(n, port: port, inTunnel: inTunnel, rng: &rng))
                    n += 1
                }
                var chunks: [[UInt8]] = []
                let prefix = inTunnel ? "CONNECT allowed.test:\(port) HTTP/1.1\r\n" + AttackTests.auth + "\r\n" : ""
                if Bool.random(using: &rng) {
                    chunks = [(prefix + requests.joined()).bytes]  // pipelined in one write
                } else {
                    chunks = [prefix.bytes] + requests.map(\.bytes)
                }
                connections.append((h.httpPort, chunks.filter { !$0.isEmpty }))
            }
            for batch in stride(from: 0, to: connections.count, by: 20) {
                await withTaskGroup(of: Void.self) { group in
                    for c in connections[batch..<min(batch + 20, connections.count)] {
                        group.addTask { _ = try? await RawClient.exchange(port: c.port, c.chunks, timeout: .seconds(1)) }
                    }
                }
            }
            let received = h.upstreams.received.requests
            #expect(!received.isEmpty, "some requests are well-formed and allowed")
            #expect(!received.contains { $0.uri.hasSuffix("/smuggled") }, "a body was taken for a request")
            await AttackTests().expectEveryUpstreamRequestDecided(h)
        }
    }
}

extension AttackTests {
    @Test(arguments: ["X-A: a\u{1}b\r\n", "X-A: a\u{7f}b\r\n", "X A: b\r\n", "X-A: a\rb\r\n"])
    func controlCharactersInHeadersAre400(header: String) async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let reply = try await send(h, "GET http://allowed.test:\(port)/x HTTP/1.1\r\nHost: allowed.test:\(port)\r\n"
                + Self.auth + header + "\r\n")
            #expect(reply.hasPrefix("HTTP/1.1 400"), "\(header.debugDescription): \(reply)")
            #expect(h.upstreams.received.requests.isEmpty)
        }
    }

    @Test func anH2cUpgradeIsNeverForwarded() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let reply = try await send(h, "GET http://allowed.test:\(port)/x HTTP/1.1\r\nHost: allowed.test:\(port)\r\n" + Self.auth
                + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: close\r\n\r\n")
            #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
            let headers = try #require(h.upstreams.received.requests.first).headers
            #expect(!headers.contains { $0.hasPrefix("upgrade:") || $0.hasPrefix("http2-settings:") }, "\(headers)")
        }
    }
}
