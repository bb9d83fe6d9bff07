import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Testing

@Suite("Store contract: credentials")
struct CredentialContractTests {
    static func spec(_ name: String, host: String = "api.example.com", placement: CredentialPlacement = .header(name: "Authorization", format: "Bearer {secret}"))
        throws -> CredentialSpec {
        var draft = CredentialSpec(name: name, host: .exact(DomainName(canonical: "x.example.com")), placement: placement).draft
        draft.host = host
        return try draft.validate()
    }

    static func credential(_ id: String, _ name: String, tenant: String = "ten_a", sealed: UInt8 = 1) throws -> CredentialRecord {
        CredentialRecord(id: id, tenantID: tenant, spec: try spec(name), sealedValue: [1] + Array(repeating: sealed, count: 40),
                         createdAt: Fixture.t0)
    }

    static func attachment(_ sandbox: String, _ credential: String, _ placeholder: String, at ms: Int64 = 0) -> CredentialAttachment {
        CredentialAttachment(sandboxID: sandbox, credentialID: credential, placeholder: placeholder,
                             createdAt: Fixture.t0.adding(milliseconds: ms))
    }

    static let p1 = "pcx_" + String(repeating: "a", count: 32)
    static let p2 = "pcx_" + String(repeating: "b", count: 32)
    static let p3 = "pcx_" + String(repeating: "c", count: 32)

    @Test("A credential is stored and read back whole — spec, sealed bytes, times — and listed by name per tenant",
          arguments: StoreKind.available)
    func roundTrip(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createTenant(Fixture.tenant("ten_b", name: "b"))
            var rich = try Self.credential("cred_2", "zeta")
            rich.spec = try CredentialDraft(name: "zeta", host: "*.Example.COM.", port: 8443, methods: ["get", "POST"], pathPrefix: "/v1",
                                            placementKind: "query", placementName: "key", require: true).validate()
            try await store.createCredential(rich)
            try await store.createCredential(try Self.credential("cred_1", "alpha"))
            try await store.createCredential(try Self.credential("cred_3", "alpha", tenant: "ten_b"))
            #expect(try await store.credentials(tenantID: "ten_a").map(\.name) == ["alpha", "zeta"])
            #expect(try await store.credentials(tenantID: "ten_a").last == rich)
            #expect(try await store.allCredentials().map(\.id) == ["cred_1", "cred_2", "cred_3"])
            #expect(try await store.sealedValueCount() == 3)
        }
    }

    @Test("A taken name within a tenant is a conflict; another tenant may use it", arguments: StoreKind.available)
    func nameConflict(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createCredential(try Self.credential("cred_1", "openai"))
            await #expect {
                try await store.createCredential(try Self.credential("cred_2", "openai"))
            } throws: { ($0 as? StoreError)?.kind == .conflict && ($0 as? StoreError)?.message == "a credential named \"openai\" already exists" }
            #expect(try await store.credentials(tenantID: "ten_a").count == 1)
        }
    }

    @Test("Replacing keeps id, name and creation time; deleting removes every attachment", arguments: StoreKind.available)
    func replaceAndDelete(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
            try await store.createSandbox(Fixture.sandbox("sbx_2"), rules: [])
            try await store.createCredential(try Self.credential("cred_1", "openai"))
            _ = try await store.attachCredential(Self.attachment("sbx_1", "cred_1", Self.p1))
            _ = try await store.attachCredential(Self.attachment("sbx_2", "cred_1", Self.p2))
            #expect(try await store.sealedValueCount() == 1, "one credential value")
            var rotated = try Self.credential("cred_1", "openai", sealed: 9)
            rotated.spec.port = 444
            rotated.rotatedAt = Fixture.t0.adding(milliseconds: 5)
            #expect(try await store.replaceCredential(rotated))
            #expect(try await store.credentials(tenantID: "ten_a") == [rotated])
            #expect(try await store.attachments(sandboxID: "sbx_1").map(\.placeholder) == [Self.p1], "a rotation keeps placeholders")
            var other = rotated
            other.tenantID = "ten_b"
            #expect(try await !store.replaceCredential(other), "another tenant's id is not this credential")

            #expect(try await store.deleteCredential(id: "cred_1"))
            #expect(try await store.allAttachments().isEmpty)
            #expect(try await store.credentials(tenantID: "ten_a").isEmpty)
            #expect(try await !store.deleteCredential(id: "cred_1"))
            #expect(try await store.sealedValueCount() == 0, "the fixture's sandboxes have no CA")
        }
    }

    @Test("Attaching twice keeps the first placeholder; a taken placeholder or a missing side is a conflict; detaching is reported",
          arguments: StoreKind.available)
    func attachments(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
            try await store.createSandbox(Fixture.sandbox("sbx_2"), rules: [])
            try await store.createCredential(try Self.credential("cred_1", "one"))
            try await store.createCredential(try Self.credential("cred_2", "two"))
            #expect(try await store.attachCredential(Self.attachment("sbx_1", "cred_2", Self.p1, at: 1)).placeholder == Self.p1)
            #expect(try await store.attachCredential(Self.attachment("sbx_1", "cred_2", Self.p3, at: 2)).placeholder == Self.p1)
            _ = try await store.attachCredential(Self.attachment("sbx_1", "cred_1", Self.p2, at: 3))
            #expect(try await store.attachments(sandboxID: "sbx_1").map(\.credentialID) == ["cred_2", "cred_1"], "in attachment order")
            await #expect(throws: StoreError.self) { _ = try await store.attachCredential(Self.attachment("sbx_2", "cred_1", Self.p1)) }
            await #expect(throws: StoreError.self) { _ = try await store.attachCredential(Self.attachment("sbx_9", "cred_1", Self.p3)) }
            await #expect(throws: StoreError.self) { _ = try await store.attachCredential(Self.attachment("sbx_2", "cred_9", Self.p3)) }
            #expect(try await store.allAttachments().count == 2)
            #expect(try await store.detachCredential(sandboxID: "sbx_1", credentialID: "cred_2"))
            #expect(try await !store.detachCredential(sandboxID: "sbx_1", credentialID: "cred_2"))
            #expect(try await store.deleteSandbox(id: "sbx_1"))
            #expect(try await store.allAttachments().isEmpty, "a sandbox's attachments go with it")
        }
    }

    @Test("A policy change that fails leaves credentials and attachments as they were", arguments: StoreKind.available)
    func rollback(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any Store) async throws in
            try await store.createTenant(Fixture.tenant("ten_a"))
            try await store.createSandbox(Fixture.sandbox("sbx_1"), rules: [])
            struct Abandon: AbandonsPolicyChange {}
            await #expect(throws: Abandon.self) {
                _ = try await store.commitPolicyChange(.tenant("ten_a")) {
                    try await store.createCredential(try Self.credential("cred_1", "one"))
                    _ = try await store.attachCredential(Self.attachment("sbx_1", "cred_1", Self.p1))
                    throw Abandon()
                }
            }
            #expect(try await store.allCredentials().isEmpty)
            #expect(try await store.allAttachments().isEmpty)
        }
    }
}
