#if canImport(Glibc)
import Glibc
#endif
import PortcullisModel

/// How `serve` gets its secrets key at start (INSPECTION.md, "Secrets at rest"), checked
/// against the database so that a wrong key is caught before anything is sealed or opened.
///
/// The database stores a *key check value*: a known plaintext sealed under the first key it
/// was given, written before any other sealed value. Then:
/// 1. Key file present, check stored: the key must open the check, else start is refused.
/// 2. Key file present, no check: the check is written with this key (unless the database
///    somehow holds sealed values already, which is refused: they cannot be verified).
/// 3. Key file missing, the database holds a check or sealed values: refused — a new key
///    is never created over secrets it could not read.
/// 4. Key file missing, nothing sealed: a new random key is written (0600) and its check
///    stored. When another node stored a check first (a fleet starting at once), the new
///    file is removed again and start is refused: every node must get the same key file.
public enum SecretsKeyCheck {
    static let context = "secrets-key-check"
    static let plaintext = Array("portcullis secrets key check v1".utf8)

    /// The key `serve` runs with.
    public struct Loaded: Sendable {
        public let key: SecretsKey
        /// True when the key file was created by this start.
        public let created: Bool
    }

    /// Loads (or, for a database that holds no secrets yet, creates) the key in `path` and
    /// checks it against the store. Every refusal is one line naming the file.
    public static func load(path: String, store: any SecretsRepository) async throws -> Loaded {
        let check = try await store.secretsKeyCheck()
        let sealedCount = try await store.sealedValueCount()
        if let key = try SecretsKeyFile.load(path) {
            if let check {
                try verify(key, check: check, path: path)
                return Loaded(key: key, created: false)
            }
            guard sealedCount == 0 else {
                throw SecretsError("the database holds \(sealedCount) sealed secrets but no key check, so the secrets key in \(path) cannot be verified; refusing to start")
            }
            try verify(key, check: try await store.storeSecretsKeyCheck(key.seal(plaintext, context: context)), path: path)
            return Loaded(key: key, created: false)
        }
        guard check == nil, sealedCount == 0 else {
            throw SecretsError("the secrets key file \(path) is missing, but the database holds secrets sealed under a key; give serve the key file it was set up with (--secrets-key-file) — a new key would not open them")
        }
        let key = try SecretsKeyFile.create(path)
        do {
            try verify(key, check: try await store.storeSecretsKeyCheck(key.seal(plaintext, context: context)), path: path)
        } catch {
            unlink(path)
            if error is SecretsError {
                throw SecretsError("another node set this database up with another secrets key while \(path) was being created; give every node the same key file (--secrets-key-file)")
            }
            throw error
        }
        return Loaded(key: key, created: true)
    }

    static func verify(_ key: SecretsKey, check: [UInt8], path: String) throws(SecretsError) {
        guard let opened = try? key.open(check, context: context), opened == plaintext else {
            throw SecretsError("the secrets key in \(path) is not the key this database's secrets are sealed under; give serve the key file it was set up with (--secrets-key-file)")
        }
    }
}
