import Foundation
import NIOCore
import PortcullisGateway
import PortcullisModel
import PortcullisPolicy
import PortcullisTestSupport
import Testing

/// Credentials through the running gateway (INSPECTION.md, "Credentials"), with a canary
/// secret: where it must be (the bound upstream, at the declared placement) and where it
/// must never be (what the sandbox receives, the audit log).
@Suite(.serialized) struct CredentialTests {
    static let canary = "CANARY-sk-0123456789-canary"
    static let placeholder = "pcx_" + String(repeating: "q", count: 32)
    static let basicPlaceholder = "pcx_" + String(repeating: "r", count: 32)
    static let tlsHost = HostPattern.exact(DomainName(canonical: "tls.test"))

    static func bindings(port: Int, require: Bool = false) -> [CredentialBinding] {
        [CredentialBinding(name: "canary", placeholder: placeholder, host: tlsHost, port: UInt16(port), pathPrefix: "/v1",
                           placement: .header(name: "Authorization", format: "Bearer {secret}"), require: require, secret: canary),
         CredentialBinding(name: "git", placeholder: basicPlaceholder, host: tlsHost, port: UInt16(port), pathPrefix: "/git",
                           placement: .basic, secret: canary)]
    }

    /// tls.test allowed without endpoint rules: only the credential makes it terminated.
    func withCredentials(require: Bool = false, configure: (inout GatewayConfiguration) -> Void = { _ in },
                         _ body: (Harness, String) async throws -> Void) async throws {
        let tls = try TestTLS(upstreamCertificatePEM: try await Upstreams.certificatePEMForTests())
        let caFile = try tls.writeCA()
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        // The TLS upstream's port is known only once it runs: the snapshot is set after start.
        try await withHarness(configure: { $0.tls = tls; configure(&$0) }) { h in
            h.gateway.registry.update(Fixtures.snapshot(version: 2, credentials: Self.bindings(port: h.upstreams.tlsPort,
                                                                                               require: require)))
            try await body(h, caFile)
        }
    }

    func expectNoCanaryAnywhere(_ h: Harness, _ seen: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        #expect(!seen.contains(Self.canary), "the sandbox saw the secret", sourceLocation: sourceLocation)
        _ = await h.waitForNoConnections()
        await h.settleAudit()
        for event in h.audit.all {
            #expect(!"\(event)".contains(Self.canary), "the audit holds the secret: \(event)", sourceLocation: sourceLocation)
        }
    }

    @Test func thePlaceholderBecomesTheSecretAtItsPlacementAndTheEchoIsScrubbed() async throws {
        try await withCredentials { h, ca in
            let port = h.upstreams.tlsPort
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, "-i",
                                    "-H", "X-Before: 1", "-H", "Authorization: Bearer \(Self.placeholder)",
                                    "-H", "Accept-Encoding: gzip", "-H", "X-After: 2", "-H", "Proxy-Hop: 3",
                                    "https://tls.test:\(port)/v1/chat?x=1"])
            #expect(r.stdout.contains("upstream tls GET /v1/chat?x=1"), "\(r.stdout)\(r.stderr)")
            let received = try #require(h.upstreams.tlsReceived.requests.first)
            #expect(received.headers.contains("authorization: Bearer \(Self.canary)"), "\(received.headers)")
            // The value goes in the declared field only, every other field as it came; the
            // sandbox's Accept-Encoding is replaced, a Proxy-* field is dropped.
            #expect(received.headers.contains("x-before: 1") && received.headers.contains("x-after: 2"), "\(received.headers)")
            #expect(!received.headers.contains { $0.contains(Self.placeholder) || $0.hasPrefix("proxy-") }, "\(received.headers)")
            #expect(received.headers.filter { $0.hasPrefix("accept-encoding:") } == ["accept-encoding: identity"])
            // The upstream echoed the header: the sandbox sees the placeholder instead.
            #expect(r.stdout.contains("> authorization: Bearer \(Self.placeholder)"))
            let e = try #require(await h.event { $0.method == "GET" && $0.path == "/v1/chat" && $0.action == .allow })
            #expect(e.credential == "canary" && e.terminated)
            let reflected = try #require(await h.event { $0.rejectedBy == "credential-reflected" })
            #expect(reflected.action == .warn)
            await expectNoCanaryAnywhere(h, r.stdout + r.stderr)
        }
    }

    /// The upstream frames its echo with Content-Length; scrubbing makes it longer (the
    /// placeholder is longer than this secret), so the sandbox must get a body framed anew,
    /// whole, over HTTP/1.1 and h2 alike.
    @Test(arguments: ["--http1.1", "--http2"])
    func aScrubbedBodyIsFramedAnewAndArrivesWhole(_ version: String) async throws {
        try await withCredentials { h, ca in
            let port = h.upstreams.tlsPort
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, "-i", version,
                                    "-H", "Authorization: Bearer \(Self.placeholder)", "-H", "X-Last: end",
                                    "https://tls.test:\(port)/v1/chat"])
            #expect(r.status == 0, "\(version): \(r.stderr)")
            // curl -i prints the proxy's CONNECT answer first: the last head is the upstream's.
            let start = try #require(r.stdout.range(of: "upstream tls GET"), "\(version): \(r.stdout)\(r.stderr)")
            let heads = r.stdout[..<start.lowerBound], body = String(r.stdout[start.lowerBound...])
            let head = heads.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }.last ?? ""
            #expect(body.hasPrefix("upstream tls GET /v1/chat\n") && body.contains("> authorization: Bearer \(Self.placeholder)\n"),
                    "\(version): \(r.stdout)")
            #expect(body.contains("> x-last: end\n") && body.hasSuffix("\n"), "\(version): the body arrived whole: \(body)")
            // A small body (by its Content-Length) is held, scrubbed whole and sent with its new length.
            let lengths = head.split(separator: "\r\n").filter { $0.lowercased().hasPrefix("content-length:") }
            #expect(lengths.count == 1 && !head.lowercased().contains("transfer-encoding"), "\(version): \(head)")
            for line in lengths {
                #expect(Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) == body.utf8.count, "\(head)")
            }
            await expectNoCanaryAnywhere(h, r.stdout + r.stderr)
        }
    }

    /// A body longer than the gateway holds (64 KiB by its Content-Length: here the echo of
    /// 70 KB of headers) is scrubbed as it streams and framed anew (chunked), whole.
    @Test func aLargeScrubbedBodyIsStreamedAndFramedAnew() async throws {
        try await withCredentials(configure: { $0.proxy.maxHeadBytes = 96 * 1024 }) { h, ca in
            let port = h.upstreams.tlsPort
            var args = ["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, "-i", "--http1.1",
                        "-H", "Authorization: Bearer \(Self.placeholder)"]
            for i in 0..<35 { args += ["-H", "X-Pad-\(i): " + String(repeating: "p", count: 2000)] }
            args += ["-H", "X-Last: end", "https://tls.test:\(port)/v1/chat"]
            let r = try await curl(args)
            #expect(r.status == 0, "\(r.stderr)")
            let start = try #require(r.stdout.range(of: "upstream tls GET"), "\(r.stdout.prefix(2000))\(r.stderr)")
            let heads = r.stdout[..<start.lowerBound], body = String(r.stdout[start.lowerBound...])
            let head = (heads.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }.last ?? "").lowercased()
            #expect(head.contains("transfer-encoding: chunked") && !head.contains("content-length"), "\(head)")
            #expect(body.utf8.count > 64 * 1024 && body.hasSuffix("\n") && body.contains("> x-last: end\n")
                    && body.contains("> x-pad-34: ") && body.contains("> authorization: Bearer \(Self.placeholder)\n"),
                    "the body arrived whole: \(body.utf8.count) bytes")
            await expectNoCanaryAnywhere(h, r.stdout + r.stderr)
        }
    }

    /// git's way over h2: a first request without the placeholder (the server asks for
    /// Basic), then one with it, on the same client connection and so on the pooled HTTP/1.1
    /// upstream connection. Writing a response's end closes its h2 stream at once; that
    /// must not cut the upstream the next stream reuses, nor mark the entry as cut.
    @Test func requestsOnOneH2ConnectionShareTheUpstreamAndEachGetsItsAnswer() async throws {
        try await withCredentials { h, ca in
            let port = h.upstreams.tlsPort
            let first = "https://tls.test:\(port)/git/info/refs", second = "https://tls.test:\(port)/git/again"
            let common = ["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, "--http2", "-w", "[%{http_code}]"]
            let r = try await curl(common + [first, "--next"] + common + ["-u", "git:\(Self.basicPlaceholder)", second])
            #expect(r.status == 0 && r.stdout.components(separatedBy: "[200]").count == 3, "\(r.stdout)\(r.stderr)")
            let received = h.upstreams.tlsReceived.requests
            #expect(received.map(\.uri) == ["/git/info/refs", "/git/again"], "\(received.map(\.uri))")
            let expected = "authorization: Basic " + Data("git:\(Self.canary)".utf8).base64EncodedString()
            #expect(received.first?.headers.contains { $0.hasPrefix("authorization:") } == false)
            #expect(received.last?.headers.contains(expected) == true)
            for path in ["/git/info/refs", "/git/again"] {
                let e = try #require(await h.event { $0.path == path && $0.method == "GET" && $0.action != .warn })
                #expect(e.action == .allow && e.status == 200 && !e.reason.contains("closed"), "\(e.action) \(String(describing: e.status)) \(e.reason)")
            }
            await expectNoCanaryAnywhere(h, r.stdout + r.stderr)
        }
    }

    /// An upstream that compresses its answer although the gateway asked for identity: the
    /// scrubber cannot read it, so none of it reaches the sandbox (a secret it echoed would).
    @Test(arguments: ["--http1.1", "--http2"])
    func anEncodedAnswerToACredentialIsRefused(version: String) async throws {
        try await withCredentials { h, ca in
            let port = h.upstreams.tlsPort
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, "-i", version,
                                    "-H", "Authorization: Bearer \(Self.placeholder)", "https://tls.test:\(port)/v1/encoded-gzip"])
            #expect(r.stdout.contains(" 502"), "\(r.stdout)\(r.stderr)")
            #expect(!r.stdout.contains("upstream tls") && !r.stdout.contains("> authorization"), "\(r.stdout)")
            let e = try #require(await h.event { $0.path == "/v1/encoded-gzip" })
            #expect(e.action == .error && e.status == 502 && e.reason.contains("Content-Encoding \"gzip\""), "\(e.reason)")
            // The same upstream answering in identity is fine, and so is a coding with no credential.
            let plain = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, version,
                                        "-H", "Authorization: Bearer \(Self.placeholder)", "https://tls.test:\(port)/v1/plain"])
            #expect(plain.stdout.contains("upstream tls GET /v1/plain"), "\(plain.stdout)\(plain.stderr)")
            let other = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, version,
                                        "https://tls.test:\(port)/v1/encoded-gzip"])
            #expect(other.stdout.contains("upstream tls GET /v1/encoded-gzip"), "\(other.stdout)\(other.stderr)")
            await expectNoCanaryAnywhere(h, r.stdout + r.stderr + plain.stdout)
        }
    }

    @Test func aBasicPasswordPlaceholderReachesTheUpstreamAsTheRealPassword() async throws {
        try await withCredentials { h, ca in
            let port = h.upstreams.tlsPort
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca,
                                    "-u", "git:\(Self.basicPlaceholder)", "https://tls.test:\(port)/git/info/refs"])
            let received = try #require(h.upstreams.tlsReceived.requests.first, "\(r.stderr)")
            let expected = "authorization: Basic " + Data("git:\(Self.canary)".utf8).base64EncodedString()
            #expect(received.headers.contains(expected), "\(received.headers)")
            await expectNoCanaryAnywhere(h, r.stdout + r.stderr)
            #expect(!r.stdout.contains(Data("git:\(Self.canary)".utf8).base64EncodedString()))
        }
    }

    @Test(arguments: [
        ("another header", ["-H", "X-Key: \(placeholder)"], "/v1/chat"),
        ("outside the path prefix", ["-H", "Authorization: Bearer \(placeholder)"], "/v2/chat"),
        ("the query", [], "/v1/chat?k=\(placeholder)"),
        ("the body", ["--data", "token=\(placeholder)"], "/v1/chat"),
        ("another sandbox's", ["-H", "Authorization: Bearer pcx_\(String(repeating: "z", count: 32))"], "/v1/chat"),
    ])
    func aPlaceholderAnywhereElseIsRefusedAndNothingIsSent(_ where: String, args: [String], path: String) async throws {
        try await withCredentials { h, ca in
            let port = h.upstreams.tlsPort
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, "-i"] + args
                                   + ["https://tls.test:\(port)\(path)"])
            #expect(r.stdout.contains("credential-misuse"), "\(`where`): \(r.stdout)")
            #expect(h.upstreams.tlsReceived.requests.isEmpty, "\(`where`) reached the upstream")
            let e = try #require(await h.event { $0.rejectedBy == "credential-misuse" })
            #expect(e.action == .reject && e.status == 403)
        }
    }

    @Test func aPlaceholderOverPlainHTTPIsRefused() async throws {
        try await withCredentials { h, _ in
            let port = h.upstreams.plainPort
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "-i",
                                    "-H", "Authorization: Bearer \(Self.placeholder)", "http://allowed.test:\(port)/v1/chat"])
            #expect(r.stdout.hasPrefix("HTTP/1.1 403") && r.stdout.contains("credential-misuse"), "\(r.stdout)")
            #expect(h.upstreams.received.requests.isEmpty)
        }
    }

    @Test func aRequiredCredentialWithoutItsPlaceholderIsRefused() async throws {
        try await withCredentials(require: true) { h, ca in
            let port = h.upstreams.tlsPort
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca, "-i",
                                    "https://tls.test:\(port)/v1/chat"])
            #expect(r.stdout.contains("credential-required"), "\(r.stdout)")
            #expect(h.upstreams.tlsReceived.requests.isEmpty)
        }
    }
}
