import Foundation
import NIOCore
import PortcullisModel
import PortcullisPolicy
import PortcullisTestSupport
import Testing

/// Selective TLS termination (INSPECTION.md) through the running gateway, with curl as the
/// client and the test upstream's own HTTPS server: endpoint rules on HTTPS, the sandbox's
/// CA, untouched hosts, 421, 502 for an untrusted upstream, hostile paths.
@Suite(.serialized) struct TerminationTests {
    /// tls.test: GET on /v1/* only (so it is terminated); other.test: a plain allow (opaque).
    static let rules: [Rule] = Fixtures.rules.filter { $0.id != "rul_tls" } + [
        Fixtures.rule("rul_tls_api", .allow, "tls.test", methods: ["GET"], paths: ["/v1/*"]),
    ]

    func withTermination(trustUpstream: Bool = true, _ body: (Harness, TestTLS, String) async throws -> Void) async throws {
        let upstreamPEM = try await Upstreams.certificatePEMForTests()
        let tls = try TestTLS(upstreamCertificatePEM: trustUpstream ? upstreamPEM : TestCertificate.make(names: ["x.test"]).pem)
        let caFile = try tls.writeCA()
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        try await withHarness(snapshot: Fixtures.snapshot(rules: Self.rules), configure: { $0.tls = tls }) { h in
            try await body(h, tls, caFile)
        }
    }

    /// The status of the last response curl printed with `-i` (after the CONNECT's 200).
    func lastStatus(_ output: String) -> Int? {
        output.split(separator: "\r\n").last { $0.hasPrefix("HTTP/") }
            .flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { Int($0) } }
    }

    func curlTLS(_ h: Harness, _ ca: String, _ args: [String]) async throws -> ProcessResult {
        try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca] + args)
    }

    @Test func anAllowedRequestOnATerminatedConnectionReachesTheUpstreamAndIsLoggedOnItsOwn() async throws {
        try await withTermination { h, _, ca in
            let port = h.upstreams.tlsPort
            let r = try await curlTLS(h, ca, ["https://tls.test:\(port)/v1/models?key=secret"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("upstream tls GET /v1/models?key=secret"), "\(r.stdout)")
            let e = try #require(await h.event { $0.via == .connect && $0.method == "GET" })
            #expect(e.action == .allow && e.path == "/v1/models" && e.status == 200 && e.ruleID == "rul_tls_api")
            #expect(e.terminated && e.credential == nil)
            #expect(e.bytesDown > 0 && e.address == "127.0.0.1")
            let tunnel = try #require(await h.event { $0.via == .connect && $0.method == nil })
            #expect(tunnel.action == .allow && tunnel.sni == "tls.test")
            #expect(tunnel.terminated, "the connection's own line says it was terminated")
        }
    }

    @Test(arguments: ["--http1.1", "--http2"])
    func bothHTTPVersionsOnTheClientLegAreDecidedPerRequest(version: String) async throws {
        try await withTermination { h, tls, ca in
            let port = h.upstreams.tlsPort
            let ok = try await curlTLS(h, ca, [version, "-i", "https://tls.test:\(port)/v1/a"])
            #expect(ok.stdout.contains(version == "--http2" ? "HTTP/2 200" : "HTTP/1.1 200 OK"), "\(ok.stdout)")
            let refused = try await curlTLS(h, ca, [version, "-i", "-X", "POST", "https://tls.test:\(port)/v1/a"])
            #expect(lastStatus(refused.stdout) == 403)
            // The upstream leg offered what the client leg chose (h2 with an HTTP/1.1 fallback).
            let offered = tls.offered.withLock { $0 }
            #expect(offered.first == (version == "--http2" ? ["h2", "http/1.1"] : ["http/1.1"]), "\(offered)")
            #expect(h.upstreams.tlsReceived.requests.map(\.method) == ["GET"])
        }
    }

    /// An HTTP/2 stream ends when its response's end is written; that is no client leaving
    /// mid-response, and the HTTP/1.1 upstream connection (the pool's) serves the next stream.
    @Test func http2StreamsThatEndNormallyAreNotLoggedAsCutAndTheUpstreamConnectionGoesOn() async throws {
        try await withTermination { h, _, ca in
            let url = "https://tls.test:\(h.upstreams.tlsPort)/v1/"
            let each = ["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, "--http2", "-s", "-o", "/dev/null",
                        "-w", "%{http_code} %{num_connects}\n"]
            let r = try await curl(each + [url + "a", "--next"] + each + ["-X", "DELETE", url + "b", "--next"] + each + [url + "c"])
            #expect(r.stdout == "200 1\n403 0\n200 0\n", "\(r.stdout)\(r.stderr)")
            let gets = await h.events(count: 2) { $0.via == .connect && $0.method == "GET" }
            #expect(gets.map(\.status) == [200, 200])
            #expect(gets.allSatisfy { !$0.reason.contains("closed") }, "\(gets.map(\.reason))")
            #expect(h.upstreams.tlsReceived.requests.map(\.uri) == ["/v1/a", "/v1/c"])
        }
    }

    @Test func aRefusedMethodGets403AndTheConnectionServesTheNextRequest() async throws {
        try await withTermination { h, _, ca in
            let port = h.upstreams.tlsPort
            let r = try await curlTLS(h, ca, ["-s", "-v", "-o", "/dev/stdout", "-X", "DELETE", "https://tls.test:\(port)/v1/x",
                                              "--next", "--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca,
                                              "https://tls.test:\(port)/v1/y"])
            #expect(r.stdout.contains("X-Portcullis-Reason: endpoint-not-allowed") || r.stderr.contains("endpoint-not-allowed")
                    || r.stdout.contains("Portcullis blocked tls.test"), "\(r.stdout)\n\(r.stderr)")
            #expect(r.stdout.contains("upstream tls GET /v1/y"), "\(r.stdout)")
            #expect(r.stderr.contains("Re-using existing connection") || r.stderr.contains("Reusing existing"),
                    "one connection carried both requests:\n\(r.stderr)")
            let refused = try #require(await h.event { $0.rejectedBy == "endpoint-not-allowed" })
            #expect(refused.method == "DELETE" && refused.status == 403 && refused.via == .connect)
            #expect(!h.upstreams.tlsReceived.requests.contains { $0.method == "DELETE" })
        }
    }

    @Test func theLeafIsTheSandboxCAsAndNoOtherCAValidatesIt() async throws {
        try await withTermination { h, _, _ in
            let port = h.upstreams.tlsPort
            let other = try TestTLS(upstreamCertificatePEM: try await Upstreams.certificatePEMForTests())
            let otherCA = try other.writeCA()
            defer { try? FileManager.default.removeItem(atPath: otherCA) }
            let r = try await curlTLS(h, otherCA, ["https://tls.test:\(port)/v1/x"])
            #expect(r.status != 0, "another CA must not validate this sandbox's leaf")
            let e = try #require(await h.event { $0.rejectedBy == "tls-handshake" })
            #expect(e.action == .reject && e.host == "tls.test")
            #expect(h.upstreams.tlsReceived.requests.isEmpty)
        }
    }

    @Test func aHostThatNeedsNoInspectionShowsItsOwnCertificate() async throws {
        try await withTermination { h, _, _ in
            let port = h.upstreams.tlsPort
            let upstreamCA = NSTemporaryDirectory() + "portcullis-upstream-\(UUID().uuidString).pem"
            try h.upstreams.certificatePEM.write(toFile: upstreamCA, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: upstreamCA) }
            // other.test is a plain allow: the tunnel stays opaque, the upstream's certificate verifies.
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", upstreamCA,
                                    "https://other.test:\(port)/anything"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("upstream tls GET /anything"))
        }
    }

    @Test func aRequestForAnotherHostIs421() async throws {
        try await withTermination { h, _, ca in
            let port = h.upstreams.tlsPort
            let r = try await curlTLS(h, ca, ["-i", "-H", "Host: other.test:\(port)", "https://tls.test:\(port)/v1/x"])
            #expect(lastStatus(r.stdout) == 421, "\(r.stdout)")
            let e = try #require(await h.event { $0.rejectedBy == "authority-mismatch" })
            #expect(e.status == 421 && e.action == .reject)
            #expect(h.upstreams.tlsReceived.requests.isEmpty)
        }
    }

    @Test func anUntrustedUpstreamIs502NeverAFallback() async throws {
        try await withTermination(trustUpstream: false) { h, _, ca in
            let port = h.upstreams.tlsPort
            let r = try await curlTLS(h, ca, ["-i", "https://tls.test:\(port)/v1/x"])
            #expect(lastStatus(r.stdout) == 502, "\(r.stdout)")
            #expect(r.stdout.contains("upstream certificate"))
            let e = try #require(await h.event { $0.via == .connect && $0.method == "GET" })
            #expect(e.action == .error && e.reason.hasPrefix("upstream certificate: "), "\(e.reason)")
            #expect(h.upstreams.tlsReceived.requests.isEmpty)
        }
    }

    /// INSPECTION.md: a non-origin-form target inside terminated TLS is refused with 400,
    /// even one naming the connection's own host and port.
    @Test(arguments: ["http://tls.test:PORT/v1/x", "http://tls.test/v1/x", "https://tls.test:PORT/v1/x"])
    func anAbsoluteFormTargetInsideTerminatedTLSIs400AndNeverForwarded(target: String) async throws {
        try await withTermination { h, _, ca in
            let port = h.upstreams.tlsPort
            let r = try await curlTLS(h, ca, ["-i", "--request-target", target.replacingOccurrences(of: "PORT", with: "\(port)"),
                                              "https://tls.test:\(port)/v1/x"])
            #expect(lastStatus(r.stdout) == 400, "\(r.stdout)")
            #expect(h.upstreams.tlsReceived.requests.isEmpty)
            let e = try #require(await h.event { $0.status == 400 })
            #expect(e.host == "tls.test" && e.rejectedBy == "bad-request" && e.terminated, "\(e)")
        }
    }

    @Test(arguments: [
        ("/v1/../admin", 403, nil),
        ("/v1/%2e%2e/admin", 403, nil),
        ("/v1/%2Fx", 400, nil),
        ("/v1/%5Cx", 400, nil),
        ("/v1/a\\b", 400, nil),
        ("/v1/a;b", 400, nil),
        ("/v1/%00", 400, nil),
        ("/v1/%252e%252e/admin", 400, nil),
        ("//v1//x/./y", 200, "/v1/x/y"),
        ("/v1/%7Euser/%41", 200, "/v1/~user/A"),
    ] as [(String, Int, String?)])
    func hostilePathsAreRefusedOrCanonicalisedAndTheUpstreamGetsTheCanonicalPath(path: String, status: Int,
                                                                                   forwarded: String?) async throws {
        try await withTermination { h, _, ca in
            let port = h.upstreams.tlsPort
            let r = try await curlTLS(h, ca, ["-i", "--path-as-is", "https://tls.test:\(port)\(path)"])
            #expect(lastStatus(r.stdout) == status, "\(path): \(r.stdout)")
            if let forwarded {
                #expect(h.upstreams.tlsReceived.requests.map(\.uri) == [forwarded])
            } else {
                #expect(h.upstreams.tlsReceived.requests.isEmpty, "\(path) reached the upstream")
            }
            if status == 400 {
                // The entry names the terminated host, with the target as sent for its path.
                let e = try #require(await h.event { $0.status == 400 })
                #expect(e.host == "tls.test" && e.port == port && e.sni == "tls.test" && e.terminated, "\(e)")
                // (escaped as the log escapes hostile strings: a backslash is written twice; path
                // parameters, which may carry a session, are not kept)
                let logged = String(path.prefix { $0 != ";" }).replacingOccurrences(of: "\\", with: "\\\\")
                #expect(e.path == logged, "\(e)")
                #expect(e.method == "GET" && e.rejectedBy == "bad-request", "\(e)")
            }
        }
    }
}

/// Hostile bytes on terminated connections: random and truncated HTTP/1.1 heads and HTTP/2
/// frames, written inside a real TLS session with the sandbox's leaf. Nothing crashes,
/// nothing is left open or tracked, and a normal request is still served.
@Suite(.serialized) struct TerminationFuzzTests {
    @Test func hostileBytesInsideTerminatedTLSLeaveTheGatewayServingAndEmpty() async throws {
        let tls = try TestTLS(upstreamCertificatePEM: try await Upstreams.certificatePEMForTests())
        let caFile = try tls.writeCA()
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        try await withHarness(snapshot: Fixtures.snapshot(rules: TerminationTests.rules), configure: {
            $0.tls = tls
            $0.proxy.headTimeout = .milliseconds(500)
            $0.proxy.idleTimeout = .milliseconds(800)
        }) { h in
            let port = h.upstreams.tlsPort
            var rng = SystemRandomNumberGenerator()
            let heads: [[UInt8]] = [
                "GET /v1/x HTTP/1.1\r\nHost: tls.test:\(port)\r\n\r\n".bytes,
                "POST /v1/x HTTP/1.1\r\nHost: tls.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\nzz\r\n".bytes,
                "GET /v1/../../x HTTP/1.1\r\nHost: tls.test\r\n\r\n".bytes,
                Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0],  // preface + SETTINGS
                Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 5, 1, 4, 0, 0, 0, 1, 0x82, 0x86, 0x84, 0x41, 0x8a],
            ]
            var inputs: [(alpn: String, bytes: [UInt8])] = []
            for i in 0..<120 {
                var bytes = heads[Int.random(in: 0..<heads.count, using: &rng)]
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
                case 1:
                    for _ in 0..<Int.random(in: 1...6, using: &rng) where !bytes.isEmpty {
                        bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    }
                case 2: bytes = (0..<Int.random(in: 1...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                default: break
                }
                inputs.append((i % 2 == 0 ? "h2" : "http/1.1", bytes))
            }
            for batch in stride(from: 0, to: inputs.count, by: 12) {
                await withTaskGroup(of: Void.self) { group in
                    for input in inputs[batch..<min(batch + 12, inputs.count)] {
                        group.addTask {
                            _ = try? await TLSRawClient.exchange(proxyPort: h.httpPort, proxyUser: h.proxyUser,
                                                                 target: "tls.test:\(port)", caPEM: tls.caPEM,
                                                                 alpn: [input.alpn], bytes: input.bytes, timeout: .seconds(2))
                        }
                    }
                }
            }
            // Every connection ends within its timeouts (head 0.5 s, idle 0.8 s, first bytes 3 s);
            // a loaded machine gets room beyond them.
            #expect(await h.waitForNoConnections(seconds: 15) == 0)
            #expect(h.gateway.registry.liveCount == 0)
            #expect(h.gateway.connections(of: Fixtures.sandboxID) == 0)
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", caFile,
                                    "https://tls.test:\(port)/v1/after"])
            #expect(r.stdout.hasPrefix("upstream tls GET /v1/after"), "\(r.stderr)")
        }
    }
}

extension TerminationTests {
    /// A connection error (here a DATA frame on stream 0) draws a GOAWAY and ends the
    /// connection at once, instead of leaving it open until the idle timeout.
    @Test func anHTTP2ConnectionErrorClosesTheConnection() async throws {
        try await withTermination { h, tls, _ in
            let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
            let dataOnStreamZero: [UInt8] = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41]
            let start = NIODeadline.now()
            let received = try await TLSRawClient.exchange(proxyPort: h.httpPort, proxyUser: h.proxyUser,
                                                           target: "tls.test:\(h.upstreams.tlsPort)", caPEM: tls.caPEM,
                                                           alpn: ["h2"], bytes: preface + dataOnStreamZero, timeout: .seconds(20))
            let elapsed = NIODeadline.now() - start
            #expect(elapsed < .seconds(10), "closed after \(elapsed.nanoseconds / 1_000_000) ms (idle timeout 60 s)")
            // The server's SETTINGS, then (after any other frames) a GOAWAY: frame type 7 on stream 0.
            var frames: [UInt8] = []
            var i = 0
            while i + 9 <= received.count {
                frames.append(received[i + 3])
                i += 9 + (Int(received[i]) << 16 | Int(received[i + 1]) << 8 | Int(received[i + 2]))
            }
            #expect(frames.first == 4 && frames.contains(7), "\(frames)")
            // The gateway's TLS close waits up to 5 s for the client's close_notify (this
            // client only closes TCP), then the connection is gone.
            #expect(await h.waitForNoConnections(seconds: 15) == 0)
        }
    }

    @Test func socks5TunnelsAreTerminatedLikeCONNECT() async throws {
        try await withTermination { h, _, ca in
            let port = h.upstreams.tlsPort
            let ok = try await curl(["--socks5-hostname", "127.0.0.1:\(h.socksPort)", "--proxy-user", h.proxyUser,
                                     "--cacert", ca, "https://tls.test:\(port)/v1/socks"])
            #expect(ok.stdout.hasPrefix("upstream tls GET /v1/socks"), "\(ok.stderr)")
            let refused = try await curl(["-i", "--socks5-hostname", "127.0.0.1:\(h.socksPort)", "--proxy-user", h.proxyUser,
                                          "--cacert", ca, "-X", "PUT", "https://tls.test:\(port)/v1/socks"])
            #expect(lastStatus(refused.stdout) == 403, "\(refused.stdout)")
            let e = try #require(await h.event { $0.via == .socks5 && $0.method == "PUT" })
            #expect(e.terminated && e.rejectedBy == "endpoint-not-allowed")
        }
    }
}
