/// What the store keeps about secrets at rest (INSPECTION.md, "Secrets at rest"): the
/// check value that tells a right secrets key from a wrong one, and the sandbox CAs.
/// Credential values are sealed too (`CredentialRepository`).
public protocol SecretsRepository: Sendable {
    /// The key check value (a known plaintext sealed under the secrets key the database
    /// was first given), or nil when no key has been used with this database yet.
    func secretsKeyCheck() async throws -> [UInt8]?
    /// Stores `sealed` as the key check value unless one is stored already; returns the
    /// value stored afterwards (ours, or the one another node wrote first).
    func storeSecretsKeyCheck(_ sealed: [UInt8]) async throws -> [UInt8]
    /// How many sealed values the database holds (CA keys and credential values).
    func sealedValueCount() async throws -> Int
    /// Gives a sandbox made before CAs existed its CA, unless it has one by now; returns
    /// the CA the sandbox has afterwards (nil when the sandbox is gone).
    func setCertificateAuthority(_ authority: SealedCertificateAuthority, sandboxID: String) async throws
        -> SealedCertificateAuthority?
}
