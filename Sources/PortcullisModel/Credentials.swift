import PortcullisPolicy

/// A tenant's credential as the store keeps it (INSPECTION.md, "Credentials"): what it is
/// bound to and where it goes (`spec`), and the value sealed under the secrets key for the
/// context `CredentialRecord.sealingContext(id)`, so a value copied into another row does
/// not open. The database alone never yields the value.
public struct CredentialRecord: Hashable, Sendable, CustomStringConvertible {
    /// `cred_…`.
    public var id: String
    public var tenantID: String
    public var spec: CredentialSpec
    /// AES-GCM: version, nonce, ciphertext, tag.
    public var sealedValue: [UInt8]
    public var createdAt: Timestamp
    /// When the value was last replaced; nil until the first rotation.
    public var rotatedAt: Timestamp?

    public init(id: String, tenantID: String, spec: CredentialSpec, sealedValue: [UInt8], createdAt: Timestamp,
                rotatedAt: Timestamp? = nil) {
        self.id = id
        self.tenantID = tenantID
        self.spec = spec
        self.sealedValue = sealedValue
        self.createdAt = createdAt
        self.rotatedAt = rotatedAt
    }

    public var name: String { spec.name }

    /// The associated data a credential's value is sealed for: its row.
    public static func sealingContext(_ id: String) -> String { "credential/" + id }

    public var description: String { "credential \(id) \(spec.name) (value sealed, withheld)" }
}

/// A credential attached to a sandbox, with the placeholder the sandbox holds instead of the
/// value: `pcx_` and 32 characters of lower-case base-32, unique to the pair, kept across
/// rotations, gone (revoked) when the attachment is.
public struct CredentialAttachment: Hashable, Sendable {
    public var sandboxID: String
    public var credentialID: String
    public var placeholder: String
    public var createdAt: Timestamp

    public init(sandboxID: String, credentialID: String, placeholder: String, createdAt: Timestamp) {
        self.sandboxID = sandboxID
        self.credentialID = credentialID
        self.placeholder = placeholder
        self.createdAt = createdAt
    }
}

/// Credentials and their attachments. Deleting a credential deletes its attachments;
/// deleting a sandbox deletes the sandbox's.
public protocol CredentialRepository: Sendable {
    /// A tenant's credentials by name.
    func credentials(tenantID: String) async throws -> [CredentialRecord]
    /// Every credential of every tenant (to build the snapshot at start).
    func allCredentials() async throws -> [CredentialRecord]
    /// Throws `StoreError(.conflict, …)` when the tenant has a credential of that name.
    func createCredential(_ credential: CredentialRecord) async throws
    /// Replaces spec, sealed value and rotation time (never the id, name or tenant); false
    /// when it does not exist.
    func replaceCredential(_ credential: CredentialRecord) async throws -> Bool
    /// Deletes the credential and every attachment of it; false when it does not exist.
    func deleteCredential(id: String) async throws -> Bool
    /// A sandbox's attachments, oldest first.
    func attachments(sandboxID: String) async throws -> [CredentialAttachment]
    /// Every attachment (to build the snapshot at start).
    func allAttachments() async throws -> [CredentialAttachment]
    /// Attaches, unless the pair is attached already; returns the attachment stored
    /// afterwards (the existing one keeps its placeholder). Throws `StoreError(.conflict, …)`
    /// when the sandbox or the credential does not exist, or the placeholder is taken.
    func attachCredential(_ attachment: CredentialAttachment) async throws -> CredentialAttachment
    /// Detaches; false when the pair was not attached.
    func detachCredential(sandboxID: String, credentialID: String) async throws -> Bool
}
