import Foundation
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisTLS
import PortcullisTestSupport
import Testing

/// The runtime's own `TLSProvider` (`SandboxTLS`, what `serve` gives the gateway) through the
/// running gateway: leaves from the sandbox's CA in the snapshot, the upstream leg trusting
/// the test upstream only through an `--upstream-ca` file. (`TerminationTests` drives the
/// data plane with the tests' `TestTLS`.)
@Suite(.serialized) struct SandboxTLSIntegrationTests {
    static let rules: [Rule] = Fixtures.rules.filter { $0.id != "rul_tls" } + [
        Fixtures.rule("rul_tls_api", .allow, "tls.test", methods: ["GET"], paths: ["/v1/*"]),
    ]

    /// A snapshot whose sandbox has `authority` as its CA.
    static func snapshot(_ authority: SandboxCertificateAuthority) -> GatewaySnapshot {
        let base = Fixtures.snapshot(rules: rules)
        let s = base.sandboxes[Fixtures.sandboxID]!
        return GatewaySnapshot(version: base.version, sandboxes: [
            s.sandboxID: SandboxPolicy(sandboxID: s.sandboxID, tenantID: s.tenantID, proxyToken: s.proxyToken, policy: s.policy,
                                       certificateAuthority: authority),
        ])
    }

    static func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "portcullis-sandbox-tls-\(UUID().uuidString).pem"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func withSandboxTLS(upstreamCA: Bool, _ body: (Harness, _ ownCA: String, _ otherCA: String) async throws -> Void) async throws {
        let own = try SandboxAuthorities.mint(sandboxID: Fixtures.sandboxID)
        let other = try SandboxAuthorities.mint(sandboxID: "sbx_other")
        let ownFile = try Self.write(own.certificatePEM), otherFile = try Self.write(other.certificatePEM)
        let upstreamFile = try Self.write(try await Upstreams.certificatePEMForTests())
        defer { for f in [ownFile, otherFile, upstreamFile] { try? FileManager.default.removeItem(atPath: f) } }
        var settings = TerminationSettings()
        settings.upstreamTrust = try UpstreamTrust.load(files: upstreamCA ? [upstreamFile] : [])
        let snapshot = Self.snapshot(own)
        let tls = SandboxTLS(settings: settings, snapshot: { snapshot })
        try await withHarness(snapshot: snapshot, configure: { $0.tls = tls }) { h in
            try await body(h, ownFile, otherFile)
        }
    }

    func curlTLS(_ h: Harness, _ ca: String, _ args: [String]) async throws -> ProcessResult {
        try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "--cacert", ca] + args)
    }

    @Test func aTerminatedRequestValidatesAgainstTheSandboxCAAndReachesTheUpstreamTrustedThroughUpstreamCA() async throws {
        try await withSandboxTLS(upstreamCA: true) { h, own, other in
            let port = h.upstreams.tlsPort
            let ok = try await curlTLS(h, own, ["https://tls.test:\(port)/v1/models"])
            #expect(ok.status == 0, "\(ok.stderr)")
            #expect(ok.stdout.hasPrefix("upstream tls GET /v1/models"), "\(ok.stdout)")
            let h2 = try await curlTLS(h, own, ["--http2", "-i", "https://tls.test:\(port)/v1/models"])
            #expect(h2.stdout.contains("HTTP/2 200"), "\(h2.stdout)")

            let refused = try await curlTLS(h, other, ["https://tls.test:\(port)/v1/models"])
            #expect(refused.status == 60, "another sandbox's CA does not validate the leaf: \(refused.stderr)")
            #expect(h.upstreams.tlsReceived.requests.count == 2)
        }
    }

    @Test func withoutUpstreamCATheTestUpstreamIsUntrustedAnd502() async throws {
        try await withSandboxTLS(upstreamCA: false) { h, own, _ in
            let r = try await curlTLS(h, own, ["-i", "https://tls.test:\(h.upstreams.tlsPort)/v1/x"])
            #expect(r.stdout.contains(" 502 "), "\(r.stdout)")
            let e = try #require(await h.event { $0.via == .connect && $0.method == "GET" })
            #expect(e.action == .error && e.reason.hasPrefix("upstream certificate: not trusted"), "\(e.reason)")
            #expect(!e.reason.contains("\n") && !e.reason.contains(".cc:"), "one line, no TLS library internals: \(e.reason)")
            #expect(r.stdout.contains("upstream certificate: not trusted"), "\(r.stdout)")
            #expect(h.upstreams.tlsReceived.requests.isEmpty)
        }
    }
}
