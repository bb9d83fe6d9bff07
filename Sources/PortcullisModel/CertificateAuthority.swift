/// A sandbox's certificate authority as the store keeps it (INSPECTION.md, "The sandbox's
/// certificate authority"): the certificate in PEM, which is public, and the private key
/// sealed under the secrets key (`PortcullisKeys.SecretsKey`), which the database alone
/// never opens.
public struct SealedCertificateAuthority: Hashable, Sendable {
    /// The CA certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    public var certificatePEM: String
    /// The private key (PKCS#8 DER) sealed with AES-GCM: version, nonce, ciphertext, tag.
    public var sealedPrivateKey: [UInt8]

    public init(certificatePEM: String, sealedPrivateKey: [UInt8]) {
        self.certificatePEM = certificatePEM
        self.sealedPrivateKey = sealedPrivateKey
    }
}

/// A sandbox's certificate authority as the data plane uses it: the certificate and its
/// private key, decrypted, in memory only (carried in `SandboxPolicy`). The runtime issues
/// leaves with it (`PortcullisTLS`); nothing writes it anywhere.
///
/// Note to maintainers: `description` never shows the key, so a stray interpolation into
/// a log line cannot leak it.
public struct SandboxCertificateAuthority: Sendable, CustomStringConvertible {
    /// The CA certificate, DER.
    public let certificateDER: [UInt8]
    /// The CA certificate, PEM (what `GET …/ca.pem` answers).
    public let certificatePEM: String
    /// The P-256 private key, PKCS#8 DER.
    public let privateKeyDER: [UInt8]

    public init(certificateDER: [UInt8], certificatePEM: String, privateKeyDER: [UInt8]) {
        self.certificateDER = certificateDER
        self.certificatePEM = certificatePEM
        self.privateKeyDER = privateKeyDER
    }

    /// Whether `other` is the same authority (the same certificate).
    public func isSame(as other: SandboxCertificateAuthority) -> Bool { certificateDER == other.certificateDER }

    public var description: String { "SandboxCertificateAuthority(\(certificateDER.count)-byte certificate, key withheld)" }
}
