import Foundation
@testable import PortcullisKeys
import Testing

@Suite("Secrets key: AES-GCM sealing and the key file")
struct SecretsKeyTests {
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a sealed value opens under its key and context, and each sealing uses a fresh nonce")
    func roundTrip() throws {
        let key = SecretsKey.random()
        let secret = Array("a CA private key".utf8)
        let a = try key.seal(secret, context: "ca-key/sbx_1")
        let b = try key.seal(secret, context: "ca-key/sbx_1")
        #expect(try key.open(a, context: "ca-key/sbx_1") == secret)
        #expect(try key.open(b, context: "ca-key/sbx_1") == secret)
        #expect(a != b, "two sealings of one value differ (a fresh nonce each)")
        #expect(Array(a[1..<13]) != Array(b[1..<13]))
        #expect(a.count == secret.count + SecretsKey.overhead)
        #expect(!String(decoding: a, as: UTF8.self).contains("CA private"), "the plaintext does not show")
    }

    @Test("a sealed value does not open under another key, for another context, or altered")
    func refusals() throws {
        let key = SecretsKey.random()
        let sealed = try key.seal([1, 2, 3], context: "ca-key/sbx_1")
        #expect(throws: SecretsError.self) { try SecretsKey.random().open(sealed, context: "ca-key/sbx_1") }
        #expect(throws: SecretsError.self, "a key copied into another sandbox's row") { try key.open(sealed, context: "ca-key/sbx_2") }
        for index in [0, 5, sealed.count - 1] {
            var altered = sealed
            altered[index] ^= 0x01
            #expect(throws: SecretsError.self, "byte \(index) flipped") { try key.open(altered, context: "ca-key/sbx_1") }
        }
        #expect(throws: SecretsError.self) { try key.open(Array(sealed.prefix(20)), context: "ca-key/sbx_1") }
        #expect(throws: SecretsError.self) { try key.open([], context: "ca-key/sbx_1") }
        #expect(throws: SecretsError.self) { try SecretsKey(bytes: [UInt8](repeating: 1, count: 16)) }
        #expect(!"\(key)".contains("0x") && "\(key)" == "SecretsKey(withheld)")
    }

    @Test("a new key file is 0600, base64 on one line, never written over an existing file, and reads back")
    func keyFile() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/secrets.key"
        #expect(try SecretsKeyFile.load(path) == nil)
        let key = try SecretsKeyFile.create(path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasSuffix("\n") && text.count == 45)
        #expect(Data(base64Encoded: text.trimmingCharacters(in: .newlines))?.count == 32)
        #expect(SecretsKeyFile.permissionWarning(path) == nil)
        let sealed = try key.seal([42], context: "x")
        #expect(try SecretsKeyFile.load(path)?.open(sealed, context: "x") == [42])
        #expect(throws: SecretsError.self, "an existing key file is never replaced") { try SecretsKeyFile.create(path) }
        #expect(try SecretsKeyFile.load(path)?.open(sealed, context: "x") == [42])

        chmod(path, 0o644)
        #expect(SecretsKeyFile.permissionWarning(path)?.contains(path) == true)
    }

    @Test("a key file of 32 raw bytes works; anything else is refused naming the file")
    func keyFileForms() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = dir + "/raw.key"
        let bytes = (0..<32).map { UInt8($0 * 7 % 256) }
        _ = FileManager.default.createFile(atPath: raw, contents: Data(bytes))
        let key = try #require(try SecretsKeyFile.load(raw))
        #expect(try key.open(try SecretsKey(bytes: bytes).seal([5], context: "c"), context: "c") == [5])
        let spaced = dir + "/spaced.key"
        _ = FileManager.default.createFile(atPath: spaced, contents: Data(("  " + Data(bytes).base64EncodedString() + "\n\n").utf8))
        #expect(try SecretsKeyFile.load(spaced)?.open(try key.seal([6], context: "c"), context: "c") == [6])
        for (name, contents) in [("short", Data("c2hvcnQ=".utf8)), ("text", Data("not a key at all".utf8)), ("empty", Data())] {
            let path = dir + "/\(name).key"
            _ = FileManager.default.createFile(atPath: path, contents: contents)
            #expect {
                try SecretsKeyFile.load(path)
            } throws: { error in
                (error as? SecretsError)?.message.contains(path) == true
            }
        }
        #expect(throws: SecretsError.self, "a directory is not a key file") { try SecretsKeyFile.load(dir) }
        #expect(throws: SecretsError.self) { try SecretsKeyFile.create(dir + "/missing/secrets.key") }
    }
}
