import Foundation
import PortcullisModel
import SQLKit

/// A sandbox's CA as its two columns: the certificate's PEM and the sealed key in base64
/// (text in both dialects, so one code path serves SQLite and PostgreSQL).
struct AuthorityColumns {
    let certificate: String?
    let key: String?

    init(_ authority: SealedCertificateAuthority?) {
        certificate = authority?.certificatePEM
        key = authority.map { Data($0.sealedPrivateKey).base64EncodedString() }
    }

    init(row: any SQLRow, sandboxID: String) throws(StoreError) {
        certificate = try row.column("ca_certificate")
        key = try row.column("ca_key")
        guard (certificate == nil) == (key == nil) else {
            throw StoreError.corrupt("sandbox \(sandboxID) has half a CA (certificate and key go together)")
        }
    }

    var authority: SealedCertificateAuthority? {
        get throws(StoreError) {
            guard let certificate, let key else { return nil }
            guard let sealed = Data(base64Encoded: key) else { throw StoreError.corrupt("column ca_key: not base64") }
            return SealedCertificateAuthority(certificatePEM: certificate, sealedPrivateKey: Array(sealed))
        }
    }
}

extension SQLStore {
    public func secretsKeyCheck() async throws -> [UInt8]? {
        try await run { db in try await SQLStore.keyCheck(on: db) }
    }

    public func storeSecretsKeyCheck(_ sealed: [UInt8]) async throws -> [UInt8] {
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        return try await transaction { db in
            try await db.raw("""
                INSERT INTO secrets_key_check (id, sealed, created_at)
                VALUES (1, \(bind: Data(sealed).base64EncodedString()), \(bind: now)) ON CONFLICT (id) DO NOTHING
                """).run()
            guard let stored = try await SQLStore.keyCheck(on: db) else { throw StoreError.corrupt("secrets_key_check is empty after insert") }
            return stored
        }
    }

    public func sealedValueCount() async throws -> Int {
        try await run { db in
            guard let row = try await db.raw("""
                SELECT (SELECT COUNT(*) FROM sandboxes WHERE ca_key IS NOT NULL) + (SELECT COUNT(*) FROM credentials) AS n
                """).first() else { return 0 }
            return Int(try row.column("n", as: Int64.self))
        }
    }

    public func setCertificateAuthority(_ authority: SealedCertificateAuthority, sandboxID: String) async throws
        -> SealedCertificateAuthority? {
        let ca = AuthorityColumns(authority)
        return try await transaction { db in
            try await db.raw("""
                UPDATE sandboxes SET ca_certificate = \(bind: ca.certificate), ca_key = \(bind: ca.key)
                WHERE id = \(bind: sandboxID) AND ca_certificate IS NULL
                """).run()
            guard let row = try await db.raw(
                "SELECT ca_certificate, ca_key FROM sandboxes WHERE id = \(bind: sandboxID)").first() else { return nil }
            return try AuthorityColumns(row: row, sandboxID: sandboxID).authority
        }
    }

    static func keyCheck(on db: any SQLDatabase) async throws -> [UInt8]? {
        guard let row = try await db.raw("SELECT sealed FROM secrets_key_check WHERE id = 1").first() else { return nil }
        guard let bytes = Data(base64Encoded: try row.column("sealed", as: String.self)) else {
            throw StoreError.corrupt("secrets_key_check: not base64")
        }
        return Array(bytes)
    }
}
