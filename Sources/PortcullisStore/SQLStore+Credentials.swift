import Foundation
import PortcullisModel
import PortcullisPolicy
import SQLKit

extension SQLStore {
    public func credentials(tenantID: String) async throws -> [CredentialRecord] {
        try await run { db in
            try await db.raw("SELECT * FROM credentials WHERE tenant_id = \(bind: tenantID) ORDER BY name")
                .all().map(SQLStore.credential(from:))
        }
    }

    public func allCredentials() async throws -> [CredentialRecord] {
        try await run { db in
            try await db.raw("SELECT * FROM credentials ORDER BY tenant_id, name").all().map(SQLStore.credential(from:))
        }
    }

    public func createCredential(_ credential: CredentialRecord) async throws {
        let c = CredentialColumns(credential)
        try await transaction { db in
            try await SQLStore.requireTenant(credential.tenantID, on: db)
            if try await db.raw("""
                SELECT id FROM credentials WHERE tenant_id = \(bind: credential.tenantID) AND name = \(bind: credential.name)
                """).first() != nil {
                throw StoreError.credentialNameTaken(credential.name)
            }
            if try await db.raw("SELECT id FROM credentials WHERE id = \(bind: credential.id)").first() != nil {
                throw StoreError.exists("credential", credential.id)
            }
            try await db.raw("""
                INSERT INTO credentials (id, tenant_id, name, host, port, methods, path_prefix, placement_kind, placement_name,
                placement_format, require_placeholder, sealed_value, created_at, rotated_at)
                VALUES (\(bind: credential.id), \(bind: credential.tenantID), \(bind: credential.name), \(bind: c.host),
                \(bind: c.port), \(bind: c.methods), \(bind: c.pathPrefix), \(bind: c.kind), \(bind: c.placementName),
                \(bind: c.format), \(bind: c.require), \(bind: c.sealed), \(bind: credential.createdAt.milliseconds),
                \(bind: credential.rotatedAt?.milliseconds))
                """).run()
        }
    }

    public func replaceCredential(_ credential: CredentialRecord) async throws -> Bool {
        let c = CredentialColumns(credential)
        return try await run { db in
            try await db.raw("""
                UPDATE credentials SET host = \(bind: c.host), port = \(bind: c.port), methods = \(bind: c.methods),
                path_prefix = \(bind: c.pathPrefix), placement_kind = \(bind: c.kind), placement_name = \(bind: c.placementName),
                placement_format = \(bind: c.format), require_placeholder = \(bind: c.require), sealed_value = \(bind: c.sealed),
                rotated_at = \(bind: credential.rotatedAt?.milliseconds)
                WHERE id = \(bind: credential.id) AND tenant_id = \(bind: credential.tenantID) RETURNING id
                """).first() != nil
        }
    }

    public func deleteCredential(id: String) async throws -> Bool {
        try await transaction { db in
            try await db.raw("DELETE FROM credential_attachments WHERE credential_id = \(bind: id)").run()
            return try await db.raw("DELETE FROM credentials WHERE id = \(bind: id) RETURNING id").first() != nil
        }
    }

    public func attachments(sandboxID: String) async throws -> [CredentialAttachment] {
        try await run { db in
            try await db.raw("""
                SELECT * FROM credential_attachments WHERE sandbox_id = \(bind: sandboxID) ORDER BY created_at, credential_id
                """).all().map(SQLStore.attachment(from:))
        }
    }

    public func allAttachments() async throws -> [CredentialAttachment] {
        try await run { db in
            try await db.raw("SELECT * FROM credential_attachments ORDER BY sandbox_id, created_at, credential_id")
                .all().map(SQLStore.attachment(from:))
        }
    }

    public func attachCredential(_ attachment: CredentialAttachment) async throws -> CredentialAttachment {
        try await transaction { db in
            if let row = try await db.raw("""
                SELECT * FROM credential_attachments WHERE sandbox_id = \(bind: attachment.sandboxID)
                AND credential_id = \(bind: attachment.credentialID)
                """).first() {
                return try SQLStore.attachment(from: row)
            }
            guard try await db.raw("SELECT id FROM sandboxes WHERE id = \(bind: attachment.sandboxID)").first() != nil else {
                throw StoreError.unknownSandbox(attachment.sandboxID)
            }
            guard try await db.raw("SELECT id FROM credentials WHERE id = \(bind: attachment.credentialID)").first() != nil else {
                throw StoreError.unknownCredential(attachment.credentialID)
            }
            if try await db.raw(
                "SELECT sandbox_id FROM credential_attachments WHERE placeholder = \(bind: attachment.placeholder)").first() != nil {
                throw StoreError.placeholderTaken()
            }
            try await db.raw("""
                INSERT INTO credential_attachments (sandbox_id, credential_id, placeholder, created_at)
                VALUES (\(bind: attachment.sandboxID), \(bind: attachment.credentialID), \(bind: attachment.placeholder),
                \(bind: attachment.createdAt.milliseconds))
                """).run()
            return attachment
        }
    }

    public func detachCredential(sandboxID: String, credentialID: String) async throws -> Bool {
        try await run { db in
            try await db.raw("""
                DELETE FROM credential_attachments WHERE sandbox_id = \(bind: sandboxID) AND credential_id = \(bind: credentialID)
                RETURNING placeholder
                """).first() != nil
        }
    }

    // MARK: Rows

    static func credential(from row: any SQLRow) throws(StoreError) -> CredentialRecord {
        let id: String = try row.column("id")
        let methods: String? = try row.column("methods")
        let draft = CredentialDraft(
            name: try row.column("name"), host: try row.column("host"), port: Int(try row.column("port", as: Int64.self)),
            methods: try methods.map { m throws(StoreError) in try JSONText.decode(m, column: "methods") },
            pathPrefix: try row.column("path_prefix"), placementKind: try row.column("placement_kind"),
            placementName: try row.column("placement_name"), placementFormat: try row.column("placement_format"),
            require: try row.column("require_placeholder", as: Bool.self))
        let spec: CredentialSpec
        do { spec = try draft.validate() } catch { throw StoreError.corrupt("credential \(id): \(error.message)") }
        guard let sealed = Data(base64Encoded: try row.column("sealed_value", as: String.self)) else {
            throw StoreError.corrupt("credential \(id): column sealed_value is not base64")
        }
        let rotated: Int64? = try row.column("rotated_at")
        return CredentialRecord(id: id, tenantID: try row.column("tenant_id"), spec: spec, sealedValue: Array(sealed),
                                createdAt: Timestamp(milliseconds: try row.column("created_at")),
                                rotatedAt: rotated.map { Timestamp(milliseconds: $0) })
    }

    static func attachment(from row: any SQLRow) throws(StoreError) -> CredentialAttachment {
        CredentialAttachment(sandboxID: try row.column("sandbox_id"), credentialID: try row.column("credential_id"),
                             placeholder: try row.column("placeholder"),
                             createdAt: Timestamp(milliseconds: try row.column("created_at")))
    }
}

/// A credential's columns as text (both dialects), the sealed value in base64.
struct CredentialColumns {
    let host: String
    let port: Int
    let methods: String?
    let pathPrefix: String?
    let kind: String
    let placementName: String?
    let format: String?
    let require: Bool
    let sealed: String

    init(_ c: CredentialRecord) {
        let d = c.spec.draft
        host = d.host
        port = d.port ?? 443
        methods = d.methods.map(JSONText.encode)
        pathPrefix = d.pathPrefix
        kind = d.placementKind
        placementName = d.placementName
        format = d.placementFormat
        require = d.require ?? false
        sealed = Data(c.sealedValue).base64EncodedString()
    }
}
