import PortcullisKeys
import PortcullisModel
import PortcullisPolicy

/// A credential as the API shows it: never its value, sealed or not.
public struct CredentialView: Sendable {
    public let id: String
    public let spec: CredentialSpec
    public let createdAt: Timestamp
    public let rotatedAt: Timestamp?

    init(_ record: CredentialRecord) {
        id = record.id
        spec = record.spec
        createdAt = record.createdAt
        rotatedAt = record.rotatedAt
    }
}

/// A credential attached to a sandbox: its name, the sandbox's placeholder, its binding.
public struct AttachedCredentialView: Sendable {
    public let spec: CredentialSpec
    public let placeholder: String
}

extension ControlPlane {
    // MARK: the tenant's credentials

    /// `GET /api/v1/credentials`: by name, never a value.
    public func listCredentials(_ caller: Caller) throws -> [CredentialView] {
        _ = try tenant(caller)
        return tenantCredentials(caller.tenantID).map(CredentialView.init)
    }

    /// `GET /api/v1/credentials/{name}`.
    public func getCredential(_ caller: Caller, name: String) throws -> CredentialView {
        CredentialView(try credential(caller, name))
    }

    /// `POST /api/v1/credentials`: 201; the value is sealed under the secrets key before it
    /// is stored. A taken name is 409.
    public func createCredential(_ caller: Caller, _ draft: CredentialDraft, value: String?) async throws -> CredentialView {
        _ = try tenant(caller)
        let spec = try validate(draft)
        // A taken name is the conflict, whatever else is wrong with the new one's value.
        if credentialID(tenantID: caller.tenantID, name: spec.name) != nil { throw Self.nameTaken(spec.name) }
        guard let value else { throw ControlError.badRequest("value is required (it is never shown again)") }
        try validateValue(value)
        guard tenantCredentials(caller.tenantID).count < Self.credentialsPerTenant else {
            throw ControlError.badRequest("a tenant has at most \(Self.credentialsPerTenant) credentials")
        }
        let id = Identifiers.credential()
        let record = CredentialRecord(id: id, tenantID: caller.tenantID, spec: spec, sealedValue: try seal(value, id: id),
                                      createdAt: now())
        let store = self.store
        do {
            try await commit(.tenant(caller.tenantID)) { try await store.createCredential(record) }
        } catch let e as ControlError where e.status == 409 {
            throw Self.nameTaken(spec.name)
        }
        return CredentialView(try applied(credential: id))
    }

    /// `PUT /api/v1/credentials/{name}`: replaces binding, placement and `require`; a
    /// `value` rotates the secret (placeholders stay), none keeps it. The name stays.
    public func replaceCredential(_ caller: Caller, name: String, _ draft: CredentialDraft, value: String?) async throws -> CredentialView {
        var record = try credential(caller, name)
        guard draft.name == name else {
            throw ControlError.badRequest("name: a credential keeps its name; this is \(Escape.quoted(name)), not \(Escape.quoted(draft.name)) (create a new one to rename)")
        }
        let spec = try validate(draft)
        let attachedTo = sandboxes(attaching: record.id)
        for sandboxID in attachedTo.sorted() {
            if let refusal = opaqueConflict(spec, sandboxID: sandboxID) { throw ControlError.badRequest(refusal) }
        }
        record.spec = spec
        if let value {
            try validateValue(value)
            record.sealedValue = try seal(value, id: record.id)
            record.rotatedAt = now()
        }
        let store = self.store, updated = record
        try await commit(PolicyChangeScope(tenantID: caller.tenantID, sandboxIDs: attachedTo.sorted())) {
            guard try await store.replaceCredential(updated) else { throw Self.notFound(name) }
        }
        return CredentialView(try applied(credential: record.id))
    }

    /// `DELETE /api/v1/credentials/{name}`: detaches it from every sandbox (their
    /// placeholders are revoked at once) and forgets the value.
    public func deleteCredential(_ caller: Caller, name: String) async throws {
        let record = try credential(caller, name)
        let attachedTo = sandboxes(attaching: record.id).sorted()
        let store = self.store
        try await commit(PolicyChangeScope(tenantID: caller.tenantID, sandboxIDs: attachedTo)) {
            guard try await store.deleteCredential(id: record.id) else { throw Self.notFound(name) }
        }
    }

    // MARK: a sandbox's credentials

    /// `GET /api/v1/sandboxes/{id}/network/credentials`: attached credentials with their
    /// placeholders, in attachment order.
    public func sandboxCredentials(_ caller: Caller, id: String) throws -> [AttachedCredentialView] {
        _ = try sandbox(caller, id)
        return (attachments[id] ?? []).compactMap { a in
            credentials[a.credentialID].map { AttachedCredentialView(spec: $0.spec, placeholder: a.placeholder) }
        }
    }

    /// `POST /api/v1/sandboxes/{id}/network/credentials/{name}`: gives the sandbox a
    /// placeholder for the credential (attaching again answers the same one). Refused while
    /// an `inspect: false` rule of the sandbox keeps the credential's host opaque.
    public func attachCredential(_ caller: Caller, id: String, name: String) async throws -> AttachedCredentialView {
        _ = try sandbox(caller, id)
        let record = try credential(caller, name)
        if let existing = attachments[id]?.first(where: { $0.credentialID == record.id }) {
            return AttachedCredentialView(spec: record.spec, placeholder: existing.placeholder)
        }
        if let refusal = opaqueConflict(record.spec, sandboxID: id) { throw ControlError.badRequest(refusal) }
        guard (attachments[id] ?? []).count < Self.credentialsPerSandbox else {
            throw ControlError.badRequest("a sandbox has at most \(Self.credentialsPerSandbox) credentials attached")
        }
        let attachment = CredentialAttachment(sandboxID: id, credentialID: record.id, placeholder: Identifiers.placeholder(),
                                              createdAt: now())
        let store = self.store
        do {
            try await commit(.sandboxes([id])) { _ = try await store.attachCredential(attachment) }
        } catch let e as ControlError where e.status == 409 {
            // The sandbox or the credential went away meanwhile (on this node or another).
            _ = try sandbox(caller, id)
            _ = try credential(caller, name)
            throw e
        }
        guard let stored = attachments[id]?.first(where: { $0.credentialID == record.id }),
              let current = credentials[record.id] else { throw Self.notFound(name) }
        return AttachedCredentialView(spec: current.spec, placeholder: stored.placeholder)
    }

    /// `DELETE /api/v1/sandboxes/{id}/network/credentials/{name}`: revokes the sandbox's
    /// placeholder at once (idempotent for a credential that exists).
    public func detachCredential(_ caller: Caller, id: String, name: String) async throws {
        _ = try sandbox(caller, id)
        let record = try credential(caller, name)
        guard attachments[id]?.contains(where: { $0.credentialID == record.id }) == true else { return }
        let store = self.store
        try await commit(.sandboxes([id])) { _ = try await store.detachCredential(sandboxID: id, credentialID: record.id) }
    }

    // MARK: helpers

    /// Most credentials one tenant may hold, and one sandbox may have attached.
    static let credentialsPerTenant = 1000
    static let credentialsPerSandbox = 64

    static func notFound(_ name: String) -> ControlError { .notFound("credential \(Escape.quoted(name)) not found") }
    static func nameTaken(_ name: String) -> ControlError { .conflict("a credential named \(Escape.quoted(name)) already exists") }

    /// The caller's credential by name, or 404.
    func credential(_ caller: Caller, _ name: String) throws -> CredentialRecord {
        guard let id = credentialID(tenantID: caller.tenantID, name: name), let record = credentials[id] else {
            throw Self.notFound(name)
        }
        return record
    }

    func credentialID(tenantID: String, name: String) -> String? {
        credentials.values.first { $0.tenantID == tenantID && $0.name == name }?.id
    }

    func tenantCredentials(_ tenantID: String) -> [CredentialRecord] {
        credentials.values.filter { $0.tenantID == tenantID }.sorted { $0.name < $1.name }
    }

    func applied(credential id: String) throws -> CredentialRecord {
        guard let record = credentials[id] else { throw ControlError.notFound("credential not found") }
        return record
    }

    /// The sandboxes a credential is attached to.
    func sandboxes(attaching credentialID: String) -> Set<String> {
        var out = Set<String>()
        for (sandboxID, list) in attachments where list.contains(where: { $0.credentialID == credentialID }) { out.insert(sandboxID) }
        return out
    }

    func validate(_ draft: CredentialDraft) throws -> CredentialSpec {
        do { return try draft.validate() } catch { throw ControlError.badRequest(error.message) }
    }

    func validateValue(_ value: String) throws {
        do { try CredentialDraft.validateValue(value) } catch { throw ControlError.badRequest(error.message) }
    }

    func seal(_ value: String, id: String) throws -> [UInt8] {
        do {
            return try secrets.seal(Array(value.utf8), context: CredentialRecord.sealingContext(id))
        } catch {
            throw ControlError(status: 500, "could not seal the credential's value: \(error.message)")
        }
    }

    /// Why `spec` may not be attached to (or stay on) a sandbox: an allow rule of its
    /// effective policy says `inspect: false` for the credential's host.
    func opaqueConflict(_ spec: CredentialSpec, sandboxID: String) -> String? {
        guard let s = sandboxes[sandboxID] else { return nil }
        guard let rule = policyView(s).effectiveAllow.first(where: { spec.isKeptOpaque(by: $0.rule) })?.rule else { return nil }
        return Self.opaqueMessage(rule: rule, credential: spec.name, sandboxID: sandboxID)
    }

    /// The rules in `candidates` that would keep a credential attached to the sandbox opaque.
    func opaqueConflict(rules candidates: [Rule], sandboxID: String) -> String? {
        for a in attachments[sandboxID] ?? [] {
            guard let spec = credentials[a.credentialID]?.spec else { continue }
            if let rule = candidates.first(where: { spec.isKeptOpaque(by: $0) }) {
                return Self.opaqueMessage(rule: rule, credential: spec.name, sandboxID: sandboxID)
            }
        }
        return nil
    }

    static func opaqueMessage(rule: Rule, credential: String, sandboxID: String) -> String {
        "inspect: false on rule \(rule.id) (\(rule.source)) for \(rule.host) keeps that host opaque in sandbox \(sandboxID), "
            + "and credential \(Escape.quoted(credential)) needs it terminated (a credential is injected only on a terminated connection); "
            + "remove the rule's inspect: false first"
    }
}
