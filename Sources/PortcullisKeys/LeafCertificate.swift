import Crypto
import Foundation
import PortcullisModel
import PortcullisPolicy
import SwiftASN1
import X509

/// A leaf certificate for one host, issued by a sandbox's CA for a terminated connection.
public struct LeafCertificate: Sendable {
    /// The certificate, DER.
    public let certificateDER: [UInt8]
    /// Its own P-256 key, PKCS#8 DER.
    public let privateKeyDER: [UInt8]
    public let notBefore: Date
    public let notAfter: Date

    /// 24 hours (INSPECTION.md).
    public static let lifetime: TimeInterval = 86_400
    /// How far `notBefore` lies before the moment of issue, for clocks a little behind.
    public static let backdating: TimeInterval = 300
    /// RFC 5280's upper bound on a common name.
    static let maxCommonName = 64

    /// Issues a leaf for exactly `host` (subjectAltName = the host, a DNS name), ECDSA
    /// P-256 with a key of its own, valid 24 hours from `now` less `backdating`, never past
    /// the CA's own end; server authentication only.
    public static func issue(for host: DomainName, by authority: SandboxCertificateAuthority,
                             now: Date = Date()) throws -> LeafCertificate {
        let ca = try Certificate(derEncoded: authority.certificateDER)
        let caKey = try P256.Signing.PrivateKey(derRepresentation: authority.privateKeyDER)
        guard ca.publicKey == Certificate.PublicKey(caKey.publicKey) else {
            throw SecretsError("the sandbox CA's key does not belong to its certificate; no leaf is issued")
        }
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let notBefore = max(now.addingTimeInterval(-backdating), ca.notValidBefore)
        let notAfter = min(notBefore.addingTimeInterval(lifetime), ca.notValidAfter)
        guard notAfter > now else { throw SecretsError("the sandbox CA has expired; no leaf can be issued") }
        let name = host.text
        let subject = try DistinguishedName {
            OrganizationName("Portcullis")
            if name.utf8.count <= maxCommonName { CommonName(name) }
        }
        let authorityKeyID = try ca.extensions.subjectKeyIdentifier?.keyIdentifier
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: ca.subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName(name)])
                SubjectKeyIdentifier(hash: publicKey)
                if let authorityKeyID { AuthorityKeyIdentifier(keyIdentifier: authorityKeyID) }
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
        return LeafCertificate(certificateDER: try SandboxAuthorities.der(certificate), privateKeyDER: Array(key.derRepresentation),
                               notBefore: notBefore, notAfter: notAfter)
    }
}
