import PortcullisModel
import PortcullisStore
import Testing

@Suite("Store contract: secrets at rest")
struct SecretsContractTests {
    static func authority(_ n: UInt8) -> SealedCertificateAuthority {
        SealedCertificateAuthority(certificatePEM: "-----BEGIN CERTIFICATE-----\nMIIB\(n)\n-----END CERTIFICATE-----\n",
                                   sealedPrivateKey: [1] + Array(repeating: n, count: 60) + [0, 255])
    }

    @Test("A sandbox's CA is written with it, read back byte for byte, never changed by an update, and deleted with it",
          arguments: StoreKind.available)
    func authorityLifecycle(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            var s = Fixture.sandbox("sbx_1")
            s.certificateAuthority = Self.authority(7)
            try await store.createSandbox(s, rules: [])
            #expect(try await store.sandbox(id: "sbx_1")?.certificateAuthority == Self.authority(7))
            #expect(try await store.allSandboxes().first?.certificateAuthority == Self.authority(7))
            #expect(try await store.sandboxes(tenantID: "ten_a", after: nil, limit: 10).first?.certificateAuthority == Self.authority(7))
            #expect(try await store.sealedValueCount() == 1)

            var changed = s
            changed.name = "renamed"
            changed.certificateAuthority = nil
            #expect(try await store.updateSandbox(changed))
            let read = try #require(try await store.sandbox(id: "sbx_1"))
            #expect(read.name == "renamed")
            #expect(read.certificateAuthority == Self.authority(7), "an update never replaces or drops the CA")

            #expect(try await store.setCertificateAuthority(Self.authority(9), sandboxID: "sbx_1") == Self.authority(7),
                    "a sandbox that has a CA keeps it")
            #expect(try await store.deleteSandbox(id: "sbx_1"))
            #expect(try await store.sealedValueCount() == 0)
            #expect(try await store.setCertificateAuthority(Self.authority(9), sandboxID: "sbx_1") == nil)
        }
    }

    @Test("A sandbox made before CAs existed gets one once; the first CA written wins", arguments: StoreKind.available)
    func olderSandboxGetsOne(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_old"), rules: [])
            #expect(try await store.sandbox(id: "sbx_old")?.certificateAuthority == nil)
            #expect(try await store.sealedValueCount() == 0)
            #expect(try await store.setCertificateAuthority(Self.authority(1), sandboxID: "sbx_old") == Self.authority(1))
            #expect(try await store.setCertificateAuthority(Self.authority(2), sandboxID: "sbx_old") == Self.authority(1))
            #expect(try await store.sandbox(id: "sbx_old")?.certificateAuthority == Self.authority(1))
            #expect(try await store.sealedValueCount() == 1)
        }
    }

    @Test("The key check value is stored once: a second node's value does not replace the first", arguments: StoreKind.available)
    func keyCheckOnce(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            #expect(try await store.secretsKeyCheck() == nil)
            let first: [UInt8] = [1, 2, 3, 0, 255]
            #expect(try await store.storeSecretsKeyCheck(first) == first)
            #expect(try await store.storeSecretsKeyCheck([9, 9]) == first)
            #expect(try await store.secretsKeyCheck() == first)
        }
    }
}
