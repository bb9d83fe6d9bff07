import Foundation
import NIOCore
import PortcullisModel
import PortcullisPolicy
import PortcullisTestSupport
import Testing

func fixture(_ name: String, file: String = #filePath) throws -> [UInt8] {
    let dir = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
    return Array(try Data(contentsOf: dir.appendingPathComponent("PortcullisProxyTests/Fixtures/\(name)")))
}

func connectHead(_ authority: String, user: String) -> String {
    "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\nProxy-Authorization: Basic \(basic(user))\r\n\r\n"
}

@Suite(.serialized) struct ConnectIntegrationTests {
    @Test func httpsThroughCONNECTReachesTheTLSUpstream() async throws {
        try await withHarness { h in
            let r = try await curl(["-k", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                    "https://tls.test:\(h.upstreams.tlsPort)/secure"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("upstream tls GET /secure"))
            let e = try #require(await h.event { $0.via == .connect && $0.host == "tls.test" })
            #expect(e.action == .allow && e.ruleID == "rul_tls" && e.sni == "tls.test" && e.status == 200)
            #expect(e.bytesUp > 0 && e.bytesDown > 0 && e.address == "127.0.0.1")
            #expect(e.method == nil && e.path == nil)
        }
    }

    @Test func curlWithAnotherServerNameIsDomainFronting() async throws {
        try await withHarness { h in
            let port = h.upstreams.tlsPort
            let r = try await curl(["-k", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                    "--connect-to", "other.test:\(port):tls.test:\(port)", "https://other.test:\(port)/"])
            #expect(r.status != 0)
            let e = try #require(await h.event { $0.via == .connect })
            #expect(e.host == "tls.test" && e.sni == "other.test")
            #expect(e.action == .reject && e.rejectedBy == "sni-mismatch")
            #expect(e.reason.contains("domain fronting"))
        }
    }

    @Test(arguments: [("clienthello-tls12-sni-example.com.bin", "differs from the requested host"),
                      ("clienthello-no-sni.bin", "carries no server name")])
    func aClientHelloThatDoesNotNameTheHostClosesTheTunnel(file: String, reason: String) async throws {
        try await withHarness { h in
            let hello = try fixture(file)
            let reply = try await RawClient.exchange(
                port: h.httpPort, [connectHead("tls.test:\(h.upstreams.tlsPort)", user: h.proxyUser).bytes, hello])
            #expect(reply.hasPrefix("HTTP/1.1 200 Connection Established\r\n\r\n"))
            #expect(reply.utf8.count == "HTTP/1.1 200 Connection Established\r\n\r\n".utf8.count, "nothing from upstream")
            let e = try #require(await h.event { $0.via == .connect })
            #expect(e.rejectedBy == "sni-mismatch" && e.reason.contains(reason), "\(e.reason)")
            #expect(await h.waitForNoConnections() == 0)
        }
    }

    @Test func aTunnelToAnIPLiteralIsDecidedOnTheIP() async throws {
        try await withHarness { h in
            // SNI example.com, CONNECT 127.0.0.1: allowed by the IP rule, the SNI only recorded.
            let hello = try fixture("clienthello-tls12-sni-example.com.bin")
            let (channel, closed, collector) = try await RawClient.open(port: h.httpPort)
            try await channel.writeAndFlush(ByteBuffer(string: connectHead("127.0.0.1:\(h.upstreams.tlsPort)", user: h.proxyUser)))
            try await channel.writeAndFlush(ByteBuffer(bytes: hello))
            try await Task.sleep(for: .milliseconds(300))
            try await channel.close()
            _ = try await closed.get()
            _ = collector
            let e = try #require(await h.event { $0.via == .connect })
            #expect(e.host == "127.0.0.1" && e.ruleID == "rul_loop" && e.sni == "example.com" && e.action == .allow)
        }
    }

    @Test func plainHTTPInsideATunnelMustNameTheSameHost() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let good = try await RawClient.exchange(port: h.httpPort, [
                connectHead("allowed.test:\(port)", user: h.proxyUser).bytes,
                "GET /inner HTTP/1.1\r\nHost: allowed.test:\(port)\r\nConnection: close\r\n\r\n".bytes,
            ])
            #expect(good.contains("upstream plain GET /inner"))
            let bad = try await RawClient.exchange(port: h.httpPort, [
                connectHead("allowed.test:\(port)", user: h.proxyUser).bytes,
                "GET /inner2 HTTP/1.1\r\nHost: denied.test\r\nConnection: close\r\n\r\n".bytes,
            ])
            #expect(!bad.contains("upstream plain"))
            let e = try #require(await h.event { $0.rejectedBy == "host-mismatch" })
            #expect(e.via == .connect && e.host == "allowed.test")
        }
    }

    @Test func connectRejectionsAndBadTargets() async throws {
        try await withHarness { h in
            let denied = try await RawClient.exchange(port: h.httpPort, [connectHead("denied.test:443", user: h.proxyUser).bytes])
            #expect(denied.hasPrefix("HTTP/1.1 403"))
            #expect(denied.contains("X-Portcullis-Reason: rul_deny"))
            let noPort = try await RawClient.exchange(port: h.httpPort, [connectHead("allowed.test", user: h.proxyUser).bytes])
            #expect(noPort.hasPrefix("HTTP/1.1 400"))
            let noAuth = try await RawClient.exchange(port: h.httpPort, ["CONNECT allowed.test:443 HTTP/1.1\r\n\r\n".bytes])
            #expect(noAuth.hasPrefix("HTTP/1.1 407"))
            let endpoint = try await RawClient.exchange(port: h.httpPort, [connectHead("api.test:443", user: h.proxyUser).bytes])
            #expect(endpoint.contains("X-Portcullis-Reason: endpoint-opaque"))
        }
    }

    @Test func aServerFirstProtocolIsNotDelayed() async throws {
        // The upstream speaks first (its banner reaches the client before the client sends anything).
        let banner = try await BannerServer.start(banner: "220 banner.test ready\r\n")
        defer { Task { await banner.stop() } }
        try await withHarness { h in
            let (channel, closed, collector) = try await RawClient.open(port: h.httpPort)
            try await channel.writeAndFlush(ByteBuffer(string: connectHead("127.0.0.1:\(banner.port)", user: h.proxyUser)))
            var got = ""
            for _ in 0..<100 {
                got = try await channel.eventLoop.submit { String(buffer: collector.received) }.get()
                if got.contains("220 banner.test") { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(got.hasSuffix("\r\n\r\n220 banner.test ready\r\n"))
            try await channel.close()
            _ = try? await closed.get()
        }
    }

    @Test func aLivePolicyChangeClosesAnOpenTunnelWithinASecond() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let (channel, closed, collector) = try await RawClient.open(port: h.httpPort, timing: true)
            try await channel.writeAndFlush(ByteBuffer(string: connectHead("allowed.test:\(port)", user: h.proxyUser)))
            try await channel.writeAndFlush(ByteBuffer(string: "GET /live HTTP/1.1\r\nHost: allowed.test:\(port)\r\n\r\n"))
            for _ in 0..<100 {
                let got = try await channel.eventLoop.submit { String(buffer: collector.received) }.get()
                if got.contains("upstream plain GET /live") { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(channel.isActive)
            let unrelated = Fixtures.snapshot(version: 2, rules: Fixtures.rules + [Fixtures.rule("rul_x", .deny, "x.test")])
            #expect(h.gateway.registry.update(unrelated) == 0)
            let blocked = Fixtures.snapshot(version: 3, rules: [Fixtures.rule("rul_block", .deny, "allowed.test")] + Fixtures.rules)
            let start = Date()
            #expect(h.gateway.registry.update(blocked) == 1)
            let closedAt = try await closed.map { _ in Date() }.get()  // timed on the client's loop
            #expect(closedAt.timeIntervalSince(start) < 1.0)
            let e = try #require(await h.event { $0.via == .connect && $0.method == nil })
            #expect(e.action == .reject && e.rejectedBy == "policy-changed")
            #expect(e.reason.contains("policy version 3 rejects it [rul_block]"), "\(e.reason)")
            #expect(e.bytesDown > 0, "the tunnel's line counts the bytes of the requests it carried")
            // New connections see the change at once.
            let again = try await RawClient.exchange(port: h.httpPort, [connectHead("allowed.test:\(port)", user: h.proxyUser).bytes])
            #expect(again.contains("X-Portcullis-Reason: rul_block"))
        }
    }
}
