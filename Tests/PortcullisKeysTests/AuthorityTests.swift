import Crypto
import Foundation
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import SwiftASN1
import Testing
@_spi(FixedExpiryValidationTime) import X509

@Suite("Sandbox CAs and their leaves")
struct AuthorityTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Whether `leaf` validates for `host` at `time` against `root` alone (RFC 5280 and server identity).
    static func validates(_ leaf: LeafCertificate, host: String, root: SandboxCertificateAuthority, at time: Date = now) async throws -> Bool {
        var verifier = Verifier(rootCertificates: CertificateStore([try Certificate(derEncoded: root.certificateDER)])) {
            RFC5280Policy(fixedExpiryValidationTime: time)
            ServerIdentityPolicy(serverHostname: host, serverIP: nil)
        }
        let result = await verifier.validate(leaf: try Certificate(derEncoded: leaf.certificateDER), intermediates: CertificateStore())
        if case .validCertificate = result { return true }
        return false
    }

    @Test("a sandbox CA is ECDSA P-256, valid ten years, a CA that signs certificates, its subject naming the sandbox")
    func mintedAuthority() throws {
        let ca = try SandboxAuthorities.mint(sandboxID: "sbx_abc123", now: Self.now)
        let certificate = try Certificate(derEncoded: ca.certificateDER)
        #expect(try Certificate(pemEncoded: ca.certificatePEM) == certificate)
        #expect(ca.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(certificate.subject.description.contains("sbx_abc123"))
        #expect(certificate.issuer == certificate.subject)
        let years = certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore) / (365.25 * 86_400)
        #expect(abs(years - 10) < 0.01)
        #expect(certificate.notValidBefore <= Self.now)
        #expect(try certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(try certificate.extensions.keyUsage?.keyCertSign == true)
        let key = try P256.Signing.PrivateKey(derRepresentation: ca.privateKeyDER)
        #expect(certificate.publicKey == Certificate.PublicKey(key.publicKey))
        #expect(certificate.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(!"\(ca)".contains("\(ca.privateKeyDER.prefix(8))"), "description withholds the key")
        let other = try SandboxAuthorities.mint(sandboxID: "sbx_abc123", now: Self.now)
        #expect(!other.isSame(as: ca), "every sandbox CA has its own key and certificate")
    }

    @Test("a CA seals under the secrets key for its own sandbox only and opens to the same certificate and key")
    func sealAndOpen() throws {
        let key = SecretsKey.random()
        let ca = try SandboxAuthorities.mint(sandboxID: "sbx_1")
        let sealed = try SandboxAuthorities.seal(ca, sandboxID: "sbx_1", with: key)
        #expect(sealed.certificatePEM == ca.certificatePEM)
        #expect(!sealed.sealedPrivateKey.contains(subsequence: ca.privateKeyDER.suffix(32)), "the key does not show")
        let opened = try SandboxAuthorities.open(sealed, sandboxID: "sbx_1", with: key)
        #expect(opened.certificateDER == ca.certificateDER && opened.privateKeyDER == ca.privateKeyDER)
        #expect(throws: SecretsError.self, "another sandbox's row") { try SandboxAuthorities.open(sealed, sandboxID: "sbx_2", with: key) }
        #expect(throws: SecretsError.self, "another key") { try SandboxAuthorities.open(sealed, sandboxID: "sbx_1", with: .random()) }
    }

    @Test("a leaf names exactly its host, lasts 24 hours, serves TLS servers only, and validates against its own CA only")
    func leaf() async throws {
        let ca = try SandboxAuthorities.mint(sandboxID: "sbx_1", now: Self.now)
        let other = try SandboxAuthorities.mint(sandboxID: "sbx_2", now: Self.now)
        let host = DomainName(canonical: "api.example.test")
        let leaf = try LeafCertificate.issue(for: host, by: ca, now: Self.now)
        let certificate = try Certificate(derEncoded: leaf.certificateDER)
        #expect(try certificate.extensions.subjectAlternativeNames == SubjectAlternativeNames([.dnsName("api.example.test")]))
        #expect(certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore) == 86_400)
        #expect(leaf.notBefore <= Self.now && leaf.notAfter > Self.now.addingTimeInterval(23 * 3600))
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try certificate.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        #expect(certificate.issuer == (try Certificate(derEncoded: ca.certificateDER)).subject)
        #expect(certificate.publicKey == Certificate.PublicKey(try P256.Signing.PrivateKey(derRepresentation: leaf.privateKeyDER).publicKey))

        #expect(try await Self.validates(leaf, host: "api.example.test", root: ca))
        #expect(try await !Self.validates(leaf, host: "api.example.test", root: other), "another sandbox's CA never validates it")
        #expect(try await !Self.validates(leaf, host: "www.example.test", root: ca), "exactly the SNI: no other name")
        #expect(try await !Self.validates(leaf, host: "x.api.example.test", root: ca))
        #expect(try await !Self.validates(leaf, host: "api.example.test", root: ca, at: Self.now.addingTimeInterval(86_400)),
                "expired after 24 hours")
    }

    @Test("a leaf for a name longer than a common name allows still carries it in subjectAltName")
    func longName() async throws {
        let ca = try SandboxAuthorities.mint(sandboxID: "sbx_1", now: Self.now)
        let name = String(repeating: "a", count: 60) + "." + String(repeating: "b", count: 60) + ".example.test"
        let leaf = try LeafCertificate.issue(for: DomainName(canonical: name), by: ca, now: Self.now)
        #expect(try await Self.validates(leaf, host: name, root: ca))
    }

    @Test("no leaf from a CA whose key is not its certificate's, or that has expired")
    func refusals() throws {
        let ca = try SandboxAuthorities.mint(sandboxID: "sbx_1", now: Self.now)
        let other = try SandboxAuthorities.mint(sandboxID: "sbx_2", now: Self.now)
        let mixed = SandboxCertificateAuthority(certificateDER: ca.certificateDER, certificatePEM: ca.certificatePEM,
                                                privateKeyDER: other.privateKeyDER)
        #expect(throws: SecretsError.self) { try LeafCertificate.issue(for: DomainName(canonical: "a.test"), by: mixed, now: Self.now) }
        #expect(throws: SecretsError.self) {
            try LeafCertificate.issue(for: DomainName(canonical: "a.test"), by: ca, now: Self.now.addingTimeInterval(SandboxAuthorities.lifetime + 1))
        }
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: some Collection<UInt8>) -> Bool {
        let needle = Array(subsequence)
        guard !needle.isEmpty, needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
