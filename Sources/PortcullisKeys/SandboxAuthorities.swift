import Crypto
import Foundation
import PortcullisModel
import SwiftASN1
import X509

/// Sandbox certificate authorities (INSPECTION.md, "The sandbox's certificate authority"):
/// ECDSA P-256, valid ten years, the subject naming the sandbox; minted with the sandbox,
/// kept with the key sealed under the secrets key, opened into memory for the data plane.
public enum SandboxAuthorities {
    /// Ten years (3,652 days, leap days included).
    public static let lifetime: TimeInterval = 3652 * 86_400
    /// How far `notBefore` lies before the moment of minting, for clocks a little behind.
    public static let backdating: TimeInterval = 300

    /// A new CA for `sandboxID`, valid from `now` (less `backdating`) for ten years.
    public static func mint(sandboxID: String, now: Date = Date()) throws -> SandboxCertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let subject = try DistinguishedName {
            OrganizationName("Portcullis")
            CommonName("Portcullis sandbox CA \(sandboxID)")
        }
        let notBefore = now.addingTimeInterval(-backdating)
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: notBefore, notValidAfter: notBefore.addingTimeInterval(lifetime),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return SandboxCertificateAuthority(certificateDER: try der(certificate),
                                           certificatePEM: try certificate.serializeAsPEM().pemString,
                                           privateKeyDER: Array(key.derRepresentation))
    }

    /// The context a sandbox's CA key is sealed for: a key copied to another sandbox's row
    /// does not open there.
    static func context(_ sandboxID: String) -> String { "ca-key/\(sandboxID)" }

    /// The CA as stored: certificate in PEM, key sealed.
    public static func seal(_ authority: SandboxCertificateAuthority, sandboxID: String,
                            with key: SecretsKey) throws(SecretsError) -> SealedCertificateAuthority {
        SealedCertificateAuthority(certificatePEM: authority.certificatePEM,
                                   sealedPrivateKey: try key.seal(authority.privateKeyDER, context: context(sandboxID)))
    }

    /// The CA opened for use: the key unsealed, the certificate decoded from its PEM. Cheap
    /// (no parsing of either): start-up opens every sandbox's CA. The key is checked against
    /// the certificate where leaves are issued (`LeafCertificate.issue`).
    public static func open(_ sealed: SealedCertificateAuthority, sandboxID: String,
                            with key: SecretsKey) throws -> SandboxCertificateAuthority {
        let keyDER = try key.open(sealed.sealedPrivateKey, context: context(sandboxID))
        let document = try PEMDocument(pemString: sealed.certificatePEM)
        guard document.discriminator == "CERTIFICATE" else {
            throw SecretsError("the CA of sandbox \(sandboxID) is a \(document.discriminator), not a CERTIFICATE")
        }
        return SandboxCertificateAuthority(certificateDER: document.derBytes, certificatePEM: sealed.certificatePEM,
                                           privateKeyDER: keyDER)
    }

    static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }
}
