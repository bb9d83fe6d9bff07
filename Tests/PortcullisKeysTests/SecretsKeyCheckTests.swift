import Foundation
import Logging
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Testing

@Suite("Secrets key at start: checked against the database, never created over secrets it cannot read")
struct SecretsKeyCheckTests {
    /// A fresh SQLite store and a directory for key files.
    static func setUp() async throws -> (store: SQLStore, dir: String) {
        let dir = try SecretsKeyTests.temporaryDirectory()
        let store = try await SQLStore.sqlite(path: dir + "/portcullis.sqlite", logger: Logger(label: "test"))
        return (store, dir)
    }

    static func expectRefusal(naming path: String, containing words: String, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected a refusal naming \(path)")
        } catch let error as SecretsError {
            #expect(error.message.contains(path), "\(error.message)")
            #expect(error.message.contains(words), "\(error.message)")
            #expect(!error.message.contains("\n"), "one line")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("the first start creates the key file and the check; later starts verify against it")
    func firstAndLaterStarts() async throws {
        let (store, dir) = try await Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/secrets.key"
        let first = try await SecretsKeyCheck.load(path: path, store: store)
        #expect(first.created)
        #expect(try await store.secretsKeyCheck() != nil)
        let sealed = try first.key.seal([1, 2], context: "c")
        let again = try await SecretsKeyCheck.load(path: path, store: store)
        #expect(!again.created)
        #expect(try again.key.open(sealed, context: "c") == [1, 2])
        try await store.shutdown()
    }

    @Test("a wrong key refuses to start, naming the file, and leaves the file as it was")
    func wrongKey() async throws {
        let (store, dir) = try await Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/secrets.key"
        _ = try await SecretsKeyCheck.load(path: path, store: store)
        try FileManager.default.removeItem(atPath: path)
        _ = try SecretsKeyFile.create(path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        await Self.expectRefusal(naming: path, containing: "not the key") {
            _ = try await SecretsKeyCheck.load(path: path, store: store)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        try await store.shutdown()
    }

    @Test("a missing key file for a database that holds secrets refuses to start and creates no key")
    func missingKey() async throws {
        let (store, dir) = try await Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/secrets.key"
        _ = try await SecretsKeyCheck.load(path: path, store: store)
        try FileManager.default.removeItem(atPath: path)
        await Self.expectRefusal(naming: path, containing: "missing") {
            _ = try await SecretsKeyCheck.load(path: path, store: store)
        }
        #expect(!FileManager.default.fileExists(atPath: path), "no new key over secrets it cannot read")
        try await store.shutdown()
    }

    @Test("sealed values without a key check are refused with or without a key file")
    func sealedWithoutCheck() async throws {
        let (store, dir) = try await Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await store.createTenant(TenantRecord(id: "ten_a", name: "a", createdAt: Timestamp(milliseconds: 0), updatedAt: Timestamp(milliseconds: 0)))
        let ca = try SandboxAuthorities.mint(sandboxID: "sbx_1")
        try await store.createSandbox(SandboxRecord(id: "sbx_1", tenantID: "ten_a", proxyToken: "t", createdAt: Timestamp(milliseconds: 0),
                                                    updatedAt: Timestamp(milliseconds: 0),
                                                    certificateAuthority: try SandboxAuthorities.seal(ca, sandboxID: "sbx_1", with: .random())),
                                      rules: [])
        let path = dir + "/secrets.key"
        await Self.expectRefusal(naming: path, containing: "missing") { _ = try await SecretsKeyCheck.load(path: path, store: store) }
        #expect(!FileManager.default.fileExists(atPath: path))
        _ = try SecretsKeyFile.create(path)
        await Self.expectRefusal(naming: path, containing: "cannot be verified") { _ = try await SecretsKeyCheck.load(path: path, store: store) }
        #expect(try await store.secretsKeyCheck() == nil, "no check written for a key that was not verified")
        try await store.shutdown()
    }

    @Test("a key file given for a fresh database is adopted: its check is stored")
    func givenKeyAdopted() async throws {
        let (store, dir) = try await Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/given.key"
        let key = try SecretsKeyFile.create(path)
        let loaded = try await SecretsKeyCheck.load(path: path, store: store)
        #expect(!loaded.created)
        #expect(try loaded.key.open(try key.seal([3], context: "c"), context: "c") == [3])
        #expect(try await store.secretsKeyCheck() != nil)
        try await store.shutdown()
    }

    /// A database another node set up (with its own key) between this node's read and its write.
    actor RacingStore: SecretsRepository {
        let othersCheck: [UInt8]
        init(othersKey: SecretsKey) throws { othersCheck = try othersKey.seal(Array("portcullis secrets key check v1".utf8), context: "secrets-key-check") }
        func secretsKeyCheck() async throws -> [UInt8]? { nil }
        func storeSecretsKeyCheck(_ sealed: [UInt8]) async throws -> [UInt8] { othersCheck }
        func sealedValueCount() async throws -> Int { 0 }
        func setCertificateAuthority(_ authority: SealedCertificateAuthority, sandboxID: String) async throws -> SealedCertificateAuthority? { nil }
    }

    @Test("two nodes creating keys at once: the one that loses removes its new file and refuses to start")
    func raceLost() async throws {
        let dir = try SecretsKeyTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/secrets.key"
        let store = try RacingStore(othersKey: .random())
        await Self.expectRefusal(naming: path, containing: "same key file") { _ = try await SecretsKeyCheck.load(path: path, store: store) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
