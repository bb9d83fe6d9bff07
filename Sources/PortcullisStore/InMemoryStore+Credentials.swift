import PortcullisModel
import PortcullisPolicy

extension InMemoryStore {
    public func credentials(tenantID: String) async throws -> [CredentialRecord] {
        credentialsByID.values.filter { $0.tenantID == tenantID }.sorted { $0.name < $1.name }
    }

    public func allCredentials() async throws -> [CredentialRecord] {
        credentialsByID.values.sorted { ($0.tenantID, $0.name) < ($1.tenantID, $1.name) }
    }

    public func createCredential(_ credential: CredentialRecord) async throws {
        guard tenantsByID[credential.tenantID] != nil else { throw StoreError.unknownTenant(credential.tenantID) }
        guard !credentialsByID.values.contains(where: { $0.tenantID == credential.tenantID && $0.name == credential.name }) else {
            throw StoreError.credentialNameTaken(credential.name)
        }
        guard credentialsByID[credential.id] == nil else { throw StoreError.exists("credential", credential.id) }
        credentialsByID[credential.id] = credential
    }

    public func replaceCredential(_ credential: CredentialRecord) async throws -> Bool {
        guard let old = credentialsByID[credential.id], old.tenantID == credential.tenantID else { return false }
        var updated = credential
        // As in SQL: the name and creation time are the row's own.
        updated.spec.name = old.spec.name
        updated.createdAt = old.createdAt
        credentialsByID[credential.id] = updated
        return true
    }

    public func deleteCredential(id: String) async throws -> Bool {
        guard credentialsByID.removeValue(forKey: id) != nil else { return false }
        attachmentsList.removeAll { $0.credentialID == id }
        return true
    }

    public func attachments(sandboxID: String) async throws -> [CredentialAttachment] {
        attachmentsList.filter { $0.sandboxID == sandboxID }.sorted(by: InMemoryStore.attachmentOrder)
    }

    public func allAttachments() async throws -> [CredentialAttachment] {
        attachmentsList.sorted { a, b in a.sandboxID != b.sandboxID ? a.sandboxID < b.sandboxID : InMemoryStore.attachmentOrder(a, b) }
    }

    public func attachCredential(_ attachment: CredentialAttachment) async throws -> CredentialAttachment {
        if let existing = attachmentsList.first(where: { $0.sandboxID == attachment.sandboxID && $0.credentialID == attachment.credentialID }) {
            return existing
        }
        guard sandboxesByID[attachment.sandboxID] != nil else { throw StoreError.unknownSandbox(attachment.sandboxID) }
        guard credentialsByID[attachment.credentialID] != nil else { throw StoreError.unknownCredential(attachment.credentialID) }
        guard !attachmentsList.contains(where: { $0.placeholder == attachment.placeholder }) else { throw StoreError.placeholderTaken() }
        attachmentsList.append(attachment)
        return attachment
    }

    public func detachCredential(sandboxID: String, credentialID: String) async throws -> Bool {
        let before = attachmentsList.count
        attachmentsList.removeAll { $0.sandboxID == sandboxID && $0.credentialID == credentialID }
        return attachmentsList.count < before
    }

    static func attachmentOrder(_ a: CredentialAttachment, _ b: CredentialAttachment) -> Bool {
        a.createdAt != b.createdAt ? a.createdAt < b.createdAt : a.credentialID < b.credentialID
    }
}
