import Crypto
import Foundation
import NIOCore
import NIOSSL
import PortcullisPolicy
import PortcullisProxy
import Synchronization
import X509

/// A `TLSProvider` for tests: one CA for the test's sandbox (minted here), leaves for each
/// SNI, and upstream verification against the test upstreams' certificate only. The
/// runtime's own provider (sandbox CAs from the store, the system trust store plus
/// `--upstream-ca`) is tested where it is built; this one lets the data plane be tested
/// with real handshakes.
final class TestTLS: TLSProvider, @unchecked Sendable {
    let caKey = P256.Signing.PrivateKey()
    let caCertificate: Certificate
    let caPEM: String
    let upstreamTrust: [NIOSSLCertificate]
    private let contexts = Mutex<[String: NIOSSLContext]>([:])
    /// The ALPN lists the upstream leg offered, in order (tests check what was offered).
    let offered = Mutex<[[String]]>([])

    init(upstreamCertificatePEM: String) throws {
        let name = try DistinguishedName { CommonName("Portcullis test sandbox CA") }
        let now = Date()
        caCertificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: .init(caKey))
        caPEM = try caCertificate.serializeAsPEM().pemString
        upstreamTrust = [try NIOSSLCertificate(bytes: Array(upstreamCertificatePEM.utf8), format: .pem)]
    }

    func serverHandler(sandboxID: String, sni: DomainName, alpn: [String]) throws -> any ChannelHandler {
        let context = try contexts.withLock { cache -> NIOSSLContext in
            if let c = cache[sni.text + "|" + alpn.joined(separator: ",")] { return c }
            let key = P256.Signing.PrivateKey()
            let now = Date()
            let leaf = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
                notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86400),
                issuer: caCertificate.subject, subject: try DistinguishedName { CommonName(sni.text) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions { SubjectAlternativeNames([.dnsName(sni.text)]) },
                issuerPrivateKey: .init(caKey))
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(try leaf.serializeAsPEM().pemString.utf8),
                                                                      format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
            configuration.applicationProtocols = alpn
            let c = try NIOSSLContext(configuration: configuration)
            cache[sni.text + "|" + alpn.joined(separator: ",")] = c
            return c
        }
        return NIOSSLServerHandler(context: context)
    }

    func clientHandler(host: TargetHost, alpn: [String]) throws -> any ChannelHandler {
        offered.withLock { $0.append(alpn) }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(upstreamTrust)
        configuration.applicationProtocols = alpn
        // The gateway is done with an upstream it closes: no waiting for its close_notify.
        configuration.shutdownTimeout = .milliseconds(200)
        guard case .name(let name) = host else { throw UpstreamTLSError.noName }
        return try NIOSSLClientHandler(context: try NIOSSLContext(configuration: configuration), serverHostname: name.text)
    }

    enum UpstreamTLSError: Error { case noName }

    /// The CA, written to a file for a client's `--cacert`.
    func writeCA() throws -> String {
        let path = NSTemporaryDirectory() + "portcullis-test-ca-\(UUID().uuidString).pem"
        try caPEM.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
