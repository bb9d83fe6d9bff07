import Foundation
import NIOCore
import PortcullisModel
import PortcullisPolicy
import PortcullisTestSupport
import Testing

@Suite(.serialized) struct HTTPProxyIntegrationTests {
    @Test func anAllowedRequestIsForwardedWithoutProxyHeadersAndAudited() async throws {
        try await withHarness { h in
            let url = "http://allowed.test:\(h.upstreams.plainPort)/hello?token=abc"
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "-H", "Connection: X-Secret",
                                    "-H", "X-Secret: drop-me", "-H", "Keep-Alive: 5", "-H", "X-Kept: yes", url])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("upstream plain GET /hello?token=abc\n"))
            #expect(!r.stdout.contains("proxy-authorization"))
            #expect(!r.stdout.contains("proxy-connection"))
            #expect(!r.stdout.contains("x-secret"))
            #expect(!r.stdout.contains("keep-alive"))
            #expect(r.stdout.contains("> x-kept: yes"))
            #expect(r.stdout.contains("> host: allowed.test:\(h.upstreams.plainPort)"))
            let e = try #require(await h.event { $0.host == "allowed.test" })
            #expect(e.action == .allow)
            #expect(e.ruleID == "rul_allow")
            #expect(e.via == .http)
            #expect(e.sandboxID == Fixtures.sandboxID && e.tenantID == Fixtures.tenantID)
            #expect(e.method == "GET" && e.path == "/hello")
            #expect(e.address == "127.0.0.1" && e.port == h.upstreams.plainPort)
            #expect(e.status == 200 && e.bytesDown > 0)
            #expect(e.policyVersion == 1)
            #expect(e.client.hasPrefix("127.0.0.1:"))
        }
    }

    @Test func aDeniedHostGets403WithTheRuleAndTheReasonHeader() async throws {
        try await withHarness { h in
            let r = try await curl(["-i", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                    "http://denied.test:\(h.upstreams.plainPort)/"])
            #expect(r.stdout.hasPrefix("HTTP/1.1 403 Forbidden"))
            #expect(r.stdout.contains("X-Portcullis-Reason: rul_deny"))
            #expect(r.stdout.contains("Portcullis blocked denied.test:\(h.upstreams.plainPort)"))
            #expect(r.stdout.contains("[rule rul_deny]"))
            let e = try #require(await h.event { $0.host == "denied.test" })
            #expect(e.action == .reject && e.rejectedBy == "rul_deny" && e.status == 403)
            #expect(e.address == nil)
        }
    }

    @Test func aWarnOnlyRuleAllowsAndFlags() async throws {
        try await withHarness { h in
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                    "http://warn.test:\(h.upstreams.plainPort)/w"])
            #expect(r.stdout.hasPrefix("upstream plain GET /w"))
            let e = try #require(await h.event { $0.host == "warn.test" })
            #expect(e.action == .warn && e.ruleID == "rul_warn")
        }
    }

    @Test func defaultDenyJoinsThePendingQueueAndSaysHowToAsk() async throws {
        try await withHarness { h in
            let r = try await curl(["-i", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                    "http://pending.test:\(h.upstreams.plainPort)/"])
            #expect(r.stdout.hasPrefix("HTTP/1.1 403"))
            #expect(r.stdout.contains("X-Portcullis-Reason: default-deny"))
            #expect(r.stdout.contains("pending queue"))
            #expect(r.stdout.contains("/api/v1/sandboxes/sbx_a/network/pending"))
            let e = try #require(await h.event { $0.host == "pending.test" })
            #expect(e.joinsPending && e.rejectedBy == "default-deny")
            _ = await h.audit.changes.wait { !h.audit.pending.isEmpty }
            #expect(h.audit.pending.map(\.host) == ["pending.test"])
        }
    }

    @Test func theGuardBlocksMetadataAsALiteralAndThroughAName() async throws {
        try await withHarness { h in
            let literal = try await curl(["-i", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                          "http://169.254.169.254/latest/meta-data/"])
            #expect(literal.stdout.hasPrefix("HTTP/1.1 403"))
            #expect(literal.stdout.contains("X-Portcullis-Reason: guard:169.254.169.254/32"))
            let named = try await curl(["-i", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "http://metadata.test/"])
            #expect(named.stdout.hasPrefix("HTTP/1.1 403"))
            #expect(named.stdout.contains("X-Portcullis-Reason: guard:169.254.169.254/32"))
            let e = try #require(await h.event { $0.host == "metadata.test" })
            #expect(e.action == .reject && e.rejectedBy == "guard:169.254.169.254/32")
            #expect(!e.joinsPending)
            // Nothing was dialled; the entry names the address the guard refused.
            #expect(e.address == "169.254.169.254")
            let l = try #require(await h.event { $0.host == "169.254.169.254" })
            #expect(l.address == "169.254.169.254")
            // The same through a tunnel.
            let tunnel = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "-p", "http://metadata.test:8443/"])
            #expect(tunnel.status != 0)
            let t = try #require(await h.event { $0.host == "metadata.test" && $0.via == .connect })
            #expect(t.rejectedBy == "guard:169.254.169.254/32" && t.address == "169.254.169.254")
        }
    }

    @Test(arguments: ["2130706433", "0x7f.1", "0177.0.0.1", "127.1"])
    func everyIPv4SpellingIsDecidedAsTheAddress(spelling: String) async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let raw = "GET http://\(spelling):\(port)/ip HTTP/1.1\r\nHost: \(spelling):\(port)\r\nConnection: close\r\n"
                + "Proxy-Authorization: Basic \(basic(h.proxyUser))\r\n\r\n"
            let reply = try await RawClient.exchange(port: h.httpPort, [raw.bytes])
            #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
            #expect(reply.contains("upstream plain GET /ip"))
            let e = try #require(await h.event { $0.path == "/ip" })
            #expect(e.host == "127.0.0.1" && e.ruleID == "rul_loop")
        }
    }

    @Test func aHostHeaderNamingAnotherHostIsRejected() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let raw = "GET http://allowed.test:\(port)/ HTTP/1.1\r\nHost: denied.test:\(port)\r\nConnection: close\r\n"
                + "Proxy-Authorization: Basic \(basic(h.proxyUser))\r\n\r\n"
            let reply = try await RawClient.exchange(port: h.httpPort, [raw.bytes])
            #expect(reply.hasPrefix("HTTP/1.1 403"))
            #expect(reply.contains("X-Portcullis-Reason: host-mismatch"))
            let e = try #require(await h.event { $0.rejectedBy == "host-mismatch" })
            #expect(e.host == "allowed.test" && e.action == .reject)
        }
    }

    @Test(arguments: [[String](), ["--proxy-user", "sbx_a:wrong"], ["--proxy-user", "sbx_nobody:tok_a_secret"]])
    func missingOrWrongCredentialsGet407(credentials: [String]) async throws {
        try await withHarness { h in
            let r = try await curl(["-i", "--proxy", h.proxyURL] + credentials + ["http://allowed.test:\(h.upstreams.plainPort)/"])
            #expect(r.stdout.hasPrefix("HTTP/1.1 407"), "curl exit \(r.status), stderr: \(r.stderr)")
            #expect(r.stdout.contains("Proxy-Authenticate: Basic realm=\"portcullis\""))
            let e = try #require(await h.event { $0.status == 407 })
            #expect(e.sandboxID == nil && e.tenantID == nil)
            #expect(e.action == .reject && e.rejectedBy == "proxy-auth")
            #expect(e.host == "allowed.test")
        }
    }

    @Test func theSourceAddressIdentifiesASandboxWithoutCredentials() async throws {
        let snapshot = Fixtures.snapshot(bySource: [.v4(IPv4Address(127, 0, 0, 1)): Fixtures.sandboxID])
        try await withHarness(snapshot: snapshot) { h in
            let r = try await curl(["--proxy", h.proxyURL, "http://allowed.test:\(h.upstreams.plainPort)/src"])
            #expect(r.stdout.hasPrefix("upstream plain GET /src"))
            let e = try #require(await h.event { $0.path == "/src" })
            #expect(e.sandboxID == Fixtures.sandboxID)
        }
    }

    @Test func endpointRulesSeeMethodAndPath() async throws {
        try await withHarness { h in
            let base = "http://api.test:\(h.upstreams.plainPort)"
            let ok = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, base + "/v1/models"])
            #expect(ok.stdout.hasPrefix("upstream plain GET /v1/models"))
            let post = try await curl(["-i", "-X", "POST", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser, base + "/v1/models"])
            #expect(post.stdout.contains("X-Portcullis-Reason: endpoint-not-allowed"))
            let other = try await curl(["-i", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser, base + "/v2/x"])
            #expect(other.stdout.contains("X-Portcullis-Reason: endpoint-not-allowed"))
        }
    }

    @Test func keepAliveRequestsAreEachDecidedOnTheirOwn() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let r = try await curl(["-v", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                    "http://allowed.test:\(port)/one", "http://denied.test:\(port)/two",
                                    "http://allowed.test:\(port)/three"])
            #expect(r.stdout.contains("upstream plain GET /one"))
            #expect(r.stdout.contains("Portcullis blocked denied.test"))
            #expect(r.stdout.contains("upstream plain GET /three"))
            #expect(r.stderr.contains("Re-using existing") || r.stderr.contains("Reusing existing"))
            _ = try #require(await h.event { $0.path == "/three" })
            #expect(h.audit.all.filter { $0.via == .http }.count == 3)
        }
    }

    /// The client address is read once per connection (from the accepted channel, not the
    /// kernel at every request): each entry of a keep-alive connection names that
    /// connection's own port, and a second connection its own.
    @Test func everyEntryNamesItsOwnConnectionsClientAddress() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            func request(_ path: String, close: Bool) -> [UInt8] {
                ("GET http://allowed.test:\(port)\(path) HTTP/1.1\r\nHost: allowed.test:\(port)\r\n"
                    + "Proxy-Authorization: Basic \(basic(h.proxyUser))\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n").bytes
            }
            var clients: [String: String] = [:]
            for (i, paths) in [["/k1", "/k2"], ["/k3"]].enumerated() {
                let (channel, done, _) = try await RawClient.open(port: h.httpPort)
                let local = try #require(channel.localAddress?.port)
                for (j, path) in paths.enumerated() {
                    try await channel.writeAndFlush(ByteBuffer(bytes: request(path, close: j == paths.count - 1)))
                    clients[path] = "127.0.0.1:\(local)"
                }
                let reply = String(buffer: try await done.get())
                #expect(reply.components(separatedBy: "HTTP/1.1 200").count - 1 == paths.count, "connection \(i): \(reply)")
            }
            for (path, client) in clients {
                let e = try #require(await h.event { $0.path == path })
                #expect(e.client == client, "\(path): \(e.client), expected \(client)")
            }
            #expect(Set(clients.values).count == 2)
        }
    }

    @Test func pythonRequestsWorksThroughTheProxy() async throws {
        let python = try #require(await pythonWithRequests(), "python3 with requests is needed (pip install requests)")
        try await withHarness { h in
            let script = """
                import requests
                p = {"http": "http://\(h.proxyUser)@127.0.0.1:\(h.httpPort)"}
                r = requests.get("http://allowed.test:\(h.upstreams.plainPort)/py", proxies=p, timeout=10)
                print(r.status_code, r.text.splitlines()[0])
                d = requests.get("http://denied.test:\(h.upstreams.plainPort)/py", proxies=p, timeout=10)
                print(d.status_code, d.headers.get("X-Portcullis-Reason"))
                """
            let r = try await run(python, ["-c", script])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == "200 upstream plain GET /py\n403 rul_deny\n")
        }
    }

    @Test func oversizedHeadsGet431AndSlowHeadsGet408() async throws {
        try await withHarness(configure: { $0.proxy.headTimeout = .milliseconds(300) }) { h in
            let big = "GET http://allowed.test/ HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 20_000) + "\r\n\r\n"
            let reply = try await RawClient.exchange(port: h.httpPort, [big.bytes])
            #expect(reply.hasPrefix("HTTP/1.1 431"))
            let slow = try await RawClient.exchange(port: h.httpPort, ["GET http://allowed.test/ HTTP/1.1\r\nX-A: b".bytes])
            #expect(slow.hasPrefix("HTTP/1.1 408"))
            #expect(await h.waitForNoConnections() == 0)
        }
    }

    @Test func theConnectionCapRefusesClearly() async throws {
        try await withHarness(configure: { $0.maxConnections = 2 }) { h in
            let (a, _, _) = try await RawClient.open(port: h.httpPort)
            let (b, _, _) = try await RawClient.open(port: h.httpPort)
            try await Task.sleep(for: .milliseconds(100))
            let third = try await RawClient.exchange(port: h.httpPort, [])
            #expect(third.hasPrefix("HTTP/1.1 503"))
            #expect(third.contains("limit of 2 open connections"))
            try await a.close()
            try await b.close()
        }
    }

    /// The cap is one count across listeners: with it taken by proxy clients, a connection
    /// redirected to the transparent listener is closed at once (it has no protocol to carry
    /// a message), counted, and logged `via: transparent` with `rejected_by: connection-limit`.
    @Test func theConnectionCapRefusesATransparentConnectionAndLogsIt() async throws {
        try await withHarness(configure: {
            $0.maxConnections = 2
            $0.transparentBind = try! SocketAddress(ipAddress: "127.0.0.1", port: 0)
        }) { h in
            let transparentPort = try #require(h.transparentPort)
            let (a, _, _) = try await RawClient.open(port: h.httpPort)
            let (b, _, _) = try await RawClient.open(port: h.httpPort)
            for _ in 0..<100 where h.gateway.openConnections < 2 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(h.gateway.openConnections == 2)
            let third = try await RawClient.exchange(port: transparentPort, [])
            #expect(third.isEmpty, "a refused transparent connection gets no bytes, only a close: \(third)")
            let event = try #require(await h.event { $0.via == .transparent })
            #expect(event.action == .error)
            #expect(event.rejectedBy == "connection-limit")
            #expect(event.reason.contains("limit of 2 open connections"))
            #expect(event.client.hasPrefix("127.0.0.1:"))
            #expect(h.gateway.openConnections == 2, "the refused connection was never counted")
            try await a.close()
            try await b.close()
        }
    }
}

func basic(_ userPassword: String) -> String { Data(userPassword.utf8).base64EncodedString() }
