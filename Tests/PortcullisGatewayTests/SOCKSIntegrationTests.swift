import Foundation
import NIOCore
import PortcullisModel
import PortcullisPolicy
import PortcullisTestSupport
import Testing

/// SOCKS5 bytes: greeting offering username/password, then RFC 1929 auth.
func socksHello(user: String = Fixtures.sandboxID, password: String = Fixtures.token) -> [UInt8] {
    [5, 1, 2] + [1, UInt8(user.utf8.count)] + Array(user.utf8) + [UInt8(password.utf8.count)] + Array(password.utf8)
}

func socksRequest(command: UInt8 = 1, ipv4: [UInt8], port: Int) -> [UInt8] {
    [5, command, 0, 1] + ipv4 + [UInt8(port >> 8), UInt8(port & 0xFF)]
}

func socksRequest(command: UInt8 = 1, domain: String, port: Int) -> [UInt8] {
    [5, command, 0, 3, UInt8(domain.utf8.count)] + Array(domain.utf8) + [UInt8(port >> 8), UInt8(port & 0xFF)]
}

@Suite(.serialized) struct SOCKSIntegrationTests {
    @Test func curlThroughSOCKS5WithHostnames() async throws {
        try await withHarness { h in
            let r = try await curl(["--socks5-hostname", "127.0.0.1:\(h.socksPort)", "--proxy-user", h.proxyUser,
                                    "http://allowed.test:\(h.upstreams.plainPort)/socks"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("upstream plain GET /socks"))
            let request = try #require(await h.event { $0.via == .socks5 && $0.method == "GET" })
            #expect(request.path == "/socks" && request.status == 200 && request.action == .allow)
            let e = try #require(await h.event { $0.via == .socks5 && $0.method == nil })
            #expect(e.host == "allowed.test" && e.action == .allow && e.ruleID == "rul_allow" && e.status == 0)
            #expect(e.bytesUp > 0 && e.bytesDown > 0)
            #expect(e.sandboxID == Fixtures.sandboxID)
        }
    }

    @Test func curlThroughSOCKS5ToTLSChecksTheServerName() async throws {
        try await withHarness { h in
            let port = h.upstreams.tlsPort
            let ok = try await curl(["-k", "--socks5-hostname", "127.0.0.1:\(h.socksPort)", "--proxy-user", h.proxyUser,
                                     "https://tls.test:\(port)/s"])
            #expect(ok.stdout.hasPrefix("upstream tls GET /s"), "\(ok.stderr)")
            let fronted = try await curl(["-k", "--socks5-hostname", "127.0.0.1:\(h.socksPort)", "--proxy-user", h.proxyUser,
                                          "--connect-to", "other.test:\(port):tls.test:\(port)", "https://other.test:\(port)/"])
            #expect(fronted.status != 0)
            let e = try #require(await h.event { $0.rejectedBy == "sni-mismatch" })
            #expect(e.via == .socks5 && e.sni == "other.test")
        }
    }

    /// A handshake must be complete within the head timeout: a silent client, one that only
    /// greets, or one that authenticates and sends no request is closed (and the two that
    /// spoke are logged); a tunnel, once established, is not subject to it.
    @Test func anUnfinishedHandshakeIsClosedAtTheHeadTimeout() async throws {
        try await withHarness(configure: { $0.proxy.headTimeout = .milliseconds(400) }) { h in
            let start = NIODeadline.now()
            let silent = try await RawClient.exchangeBytes(port: h.socksPort, [], timeout: .seconds(10))
            let greeted = try await RawClient.exchangeBytes(port: h.socksPort, [[5, 1, 2]], timeout: .seconds(10))
            let authenticated = try await RawClient.exchangeBytes(port: h.socksPort, [socksHello()], timeout: .seconds(10))
            #expect(NIODeadline.now() - start < .seconds(8), "each closed at the 0.4 s deadline, not at the 10 s client timeout")
            #expect(silent.isEmpty && greeted == [5, 2] && authenticated == [5, 2, 1, 0])
            let events = await h.events(count: 2) { $0.via == .socks5 }
            #expect(events.count == 2 && events.allSatisfy { $0.action == .error && $0.rejectedBy == "bad-request" && $0.reason.contains("did not complete within 400 ms") },
                    "\(events)")
            #expect(events.contains { $0.sandboxID == Fixtures.sandboxID }, "the authenticated one is the sandbox's")
            // A tunnel outlives the deadline.
            let (channel, received, _) = try await RawClient.open(port: h.socksPort)
            try await channel.writeAndFlush(ByteBuffer(bytes: socksHello() + socksRequest(domain: "allowed.test", port: h.upstreams.plainPort)))
            try await Task.sleep(for: .seconds(1))
            #expect(channel.isActive)
            try await channel.writeAndFlush(ByteBuffer(string: "GET /late HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n"))
            let bytes = String(decoding: try await received.get().readableBytesView, as: UTF8.self)
            #expect(bytes.contains("upstream plain GET /late"), "\(bytes)")
        }
    }

    @Test func aRejectedTargetGetsReply02() async throws {
        try await withHarness { h in
            let reply = try await RawClient.exchangeBytes(port: h.socksPort, [
                socksHello(), socksRequest(domain: "denied.test", port: 80),
            ])
            #expect(Array(reply.prefix(4)) == [5, 2, 1, 0])
            #expect(reply.count > 5 && reply[5] == 0x02)
            let e = try #require(await h.event { $0.via == .socks5 })
            #expect(e.rejectedBy == "rul_deny" && e.status == 2)
            let curlResult = try await curl(["--socks5-hostname", "127.0.0.1:\(h.socksPort)", "--proxy-user", h.proxyUser,
                                             "http://denied.test/"])
            #expect(curlResult.status != 0)
        }
    }

    @Test(arguments: [(UInt8(2), "BIND"), (UInt8(3), "UDP ASSOCIATE")])
    func bindAndUDPAssociateAreRefusedWith07(command: UInt8, name: String) async throws {
        try await withHarness { h in
            let reply = try await RawClient.exchangeBytes(port: h.socksPort, [
                socksHello(), socksRequest(command: command, ipv4: [127, 0, 0, 1], port: h.upstreams.plainPort),
            ])
            #expect(Array(reply.prefix(4)) == [5, 2, 1, 0])
            #expect(reply.count > 5 && reply[5] == 0x07)
            let e = try #require(await h.event { $0.via == .socks5 })
            #expect(e.status == 7 && e.reason.contains(name) && e.action == .reject)
        }
    }

    @Test func wrongCredentialsFailAuthentication() async throws {
        try await withHarness { h in
            let reply = try await RawClient.exchangeBytes(port: h.socksPort, [socksHello(password: "nope")])
            #expect(reply == [5, 2, 1, 1])
            let noAuth = try await RawClient.exchangeBytes(port: h.socksPort, [[5, 1, 0]])
            #expect(noAuth == [5, 0xFF])
            let e = try #require(await h.event { $0.via == .socks5 && $0.rejectedBy == "proxy-auth" })
            #expect(e.sandboxID == nil)
        }
    }

    @Test func ipv4AndIPv6RequestsAreDecided() async throws {
        try await withHarness { h in
            let v4 = try await RawClient.exchangeBytes(port: h.socksPort, [
                socksHello(), socksRequest(ipv4: [127, 0, 0, 1], port: h.upstreams.plainPort),
                "GET /v4 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".bytes,
            ])
            #expect(v4.count > 12 && v4[5] == 0)
            #expect(String(decoding: v4, as: UTF8.self).contains("upstream plain GET /v4"))
            // ::1 (exempt from the guard in these tests) is covered by no rule: default-deny, and it joins the pending queue.
            let v6 = try await RawClient.exchangeBytes(port: h.socksPort, [
                socksHello(), [5, 1, 0, 4] + [UInt8](repeating: 0, count: 15) + [1, 0, 80],
            ])
            #expect(v6.count > 5 && v6[5] == 0x02)
            let e = try #require(await h.event { $0.host == "::1" })
            #expect(e.rejectedBy == "default-deny" && e.joinsPending)
        }
    }
}
