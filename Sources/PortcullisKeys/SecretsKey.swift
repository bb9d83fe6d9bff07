import Crypto

/// Why a secret could not be sealed or opened, or a key not used.
public struct SecretsError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The secrets key (INSPECTION.md, "Secrets at rest"): 256 bits that seal every secret the
/// database holds — CA private keys now, credential values later — with AES-GCM and a fresh
/// random nonce per value. The database alone never yields a secret.
///
/// A sealed value is `version (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`. Each value is
/// sealed for a *context* (e.g. `ca-key/sbx_…`) authenticated as associated data, so a
/// value copied into another row (another sandbox's CA, another credential) does not open.
///
/// Note to maintainers: the key comes from a file (`SecretsKeyFile`), never from an
/// environment variable, which every child process would inherit; `description` never
/// shows it.
public struct SecretsKey: Sendable, CustomStringConvertible {
    static let version: UInt8 = 1
    static let nonceSize = 12
    static let tagSize = 16
    /// Bytes a sealed value adds to its plaintext.
    public static let overhead = 1 + nonceSize + tagSize

    private let key: SymmetricKey

    /// A key from its 32 bytes.
    public init(bytes: [UInt8]) throws(SecretsError) {
        guard bytes.count == 32 else { throw SecretsError("a secrets key is 32 bytes (256 bits), not \(bytes.count)") }
        key = SymmetricKey(data: bytes)
    }

    /// A fresh random key (what `serve` writes to a new key file).
    public static func random() -> SecretsKey {
        // A 32-byte key always passes init's one check.
        try! SecretsKey(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// The key's bytes, for writing the key file (and nowhere else).
    var bytes: [UInt8] { key.withUnsafeBytes { Array($0) } }

    /// Seals `plaintext` for `context` under a fresh random nonce.
    public func seal(_ plaintext: [UInt8], context: String) throws(SecretsError) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(plaintext, using: key, nonce: AES.GCM.Nonce(), authenticating: Self.associatedData(context))
            return [Self.version] + Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw SecretsError("sealing a secret failed: \(error)")
        }
    }

    /// Opens a value sealed for `context`; throws when it was sealed under another key, for
    /// another context, or was altered.
    public func open(_ sealed: [UInt8], context: String) throws(SecretsError) -> [UInt8] {
        guard sealed.count >= Self.overhead, sealed[0] == Self.version else {
            throw SecretsError("a sealed secret is malformed (\(sealed.count) bytes, version \(sealed.first ?? 0))")
        }
        let nonceEnd = 1 + Self.nonceSize, tagStart = sealed.count - Self.tagSize
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: sealed[1..<nonceEnd]),
                                            ciphertext: sealed[nonceEnd..<tagStart], tag: sealed[tagStart...])
            return Array(try AES.GCM.open(box, using: key, authenticating: Self.associatedData(context)))
        } catch {
            throw SecretsError("a sealed secret does not open under this secrets key")
        }
    }

    static func associatedData(_ context: String) -> [UInt8] { Array("portcullis-secret-v1\u{0}\(context)".utf8) }

    public var description: String { "SecretsKey(withheld)" }
}
