import Foundation
import NIOCore
import NIOSSL
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisTLS
import Testing

@Suite("Terminated TLS: the upstream leg is verified against the system roots plus --upstream-ca, host name checked")
struct UpstreamTrustTests {
    /// An upstream on loopback serving a leaf for `upstream.test` from a test CA, and that CA's PEM file.
    static func upstream(_ loop: LoopbackTLS, alpn: [String] = ["http/1.1"]) async throws -> (port: Int, caFile: String) {
        let ca = try SandboxAuthorities.mint(sandboxID: "test-upstream-ca")
        let leaf = try LeafCertificate.issue(for: DomainName(canonical: "upstream.test"), by: ca)
        let port = try await loop.server(certificateDER: leaf.certificateDER, keyDER: leaf.privateKeyDER, alpn: alpn)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-upstream-ca-\(UUID().uuidString).pem").path
        try ca.certificatePEM.write(toFile: file, atomically: true, encoding: .utf8)
        return (port, file)
    }

    static func provider(upstreamCA files: [String], systemRoots: Bool = true) throws -> SandboxTLS {
        var settings = TerminationSettings()
        settings.upstreamTrust = try UpstreamTrust.load(files: files, useSystemRoots: systemRoots)
        return SandboxTLS(settings: settings, authorities: { _ in nil })
    }

    @Test("an upstream whose certificate comes from a test CA passes only when --upstream-ca names that CA")
    func upstreamCA() async throws {
        let loop = LoopbackTLS()
        let (port, caFile) = try await Self.upstream(loop)
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        let trusting = try Self.provider(upstreamCA: [caFile])
        let outcome = try await loop.handshake(port: port) { try trusting.clientHandler(host: .name(DomainName(canonical: "upstream.test")), alpn: ["http/1.1"]) }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.alpn == "http/1.1")

        let systemOnly = try Self.provider(upstreamCA: [])
        let refused = try await loop.handshake(port: port) { try systemOnly.clientHandler(host: .name(DomainName(canonical: "upstream.test")), alpn: ["http/1.1"]) }
        #expect(!refused.succeeded, "the system roots alone do not trust the test CA")
        #expect(refused.reason(host: "upstream.test")?.hasPrefix("upstream certificate: not trusted") == true, "\(refused)")

        let onlyFile = try Self.provider(upstreamCA: [caFile], systemRoots: false)
        #expect(try await loop.handshake(port: port) { try onlyFile.clientHandler(host: .name(DomainName(canonical: "upstream.test")), alpn: ["http/1.1"]) }.succeeded)
        await loop.shutdown()
    }

    @Test("a certificate for another host name fails, even from a trusted CA")
    func wrongHostName() async throws {
        let loop = LoopbackTLS()
        let (port, caFile) = try await Self.upstream(loop)
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        let tls = try Self.provider(upstreamCA: [caFile])
        let outcome = try await loop.handshake(port: port) { try tls.clientHandler(host: .name(DomainName(canonical: "other.test")), alpn: ["http/1.1"]) }
        #expect(!outcome.succeeded)
        #expect(outcome.reason(host: "other.test") == "upstream certificate: not valid for other.test", "\(outcome)")
        await loop.shutdown()
    }

    @Test("the upstream leg offers the given ALPN list and takes what the upstream chooses")
    func upstreamALPN() async throws {
        let loop = LoopbackTLS()
        let (port, caFile) = try await Self.upstream(loop, alpn: ["h2", "http/1.1"])
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        let tls = try Self.provider(upstreamCA: [caFile])
        let host = TargetHost.name(DomainName(canonical: "upstream.test"))
        #expect(try await loop.handshake(port: port) { try tls.clientHandler(host: host, alpn: ["h2", "http/1.1"]) }.alpn == "h2")
        #expect(try await loop.handshake(port: port) { try tls.clientHandler(host: host, alpn: ["http/1.1"]) }.alpn == "http/1.1")
        await loop.shutdown()
    }

    @Test("errors that are not about TLS have no upstream-certificate reason")
    func otherErrors() {
        #expect(SandboxTLS.upstreamFailureReason(ChannelError.connectTimeout(.seconds(1)), host: "a.test") == nil)
    }

    @Test("an address target has no name to verify: refused, never an unverified connection")
    func addressTarget() throws {
        let tls = try Self.provider(upstreamCA: [])
        #expect(throws: TerminationError.self) { try tls.clientHandler(host: .address(HostParser.parseAddress("127.0.0.1")!), alpn: ["http/1.1"]) }
    }

    @Test("an --upstream-ca file that is missing, empty or not PEM is refused, naming it")
    func badFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-upstream-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "not a certificate\n".write(toFile: dir + "/junk.pem", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/empty.pem", atomically: true, encoding: .utf8)
        for file in [dir + "/missing.pem", dir + "/junk.pem", dir + "/empty.pem"] {
            #expect {
                try UpstreamTrust.load(files: [file])
            } throws: { error in
                (error as? TerminationError)?.message.contains(file) == true
            }
        }
    }
}
