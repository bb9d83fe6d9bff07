import Foundation
@testable import PortcullisControl
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Synchronization
import Testing

@Suite("Control plane: each sandbox's CA, created with it, sealed at rest, opened into the snapshot")
struct CertificateAuthorityTests {
    /// The snapshots a control plane published, newest last.
    final class Published: Sendable {
        let snapshots = Mutex<[GatewaySnapshot]>([])
        var last: GatewaySnapshot? { snapshots.withLock { $0.last } }
    }

    static let admin = Caller(tenantID: ControlPlane.defaultTenantID, keyID: "key_admin", isAdmin: true)

    static func control(_ store: any Store, key: SecretsKey, published: Published = Published()) async throws -> ControlPlane {
        let control = ControlPlane(store: store, secrets: key, now: { Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) },
                                   publish: { s in published.snapshots.withLock { $0.append(s) } })
        try await control.start()
        return control
    }

    @Test("a new sandbox has its own CA: stored sealed, in the snapshot opened, and served as PEM")
    func createdWithTheSandbox() async throws {
        let store = InMemoryStore(), key = SecretsKey.random(), published = Published()
        let control = try await Self.control(store, key: key, published: published)
        let a = try await control.createSandbox(Self.admin, SandboxCreateInput()).record.id
        let b = try await control.createSandbox(Self.admin, SandboxCreateInput(cloneFrom: a)).record.id
        let stored = try #require(try await store.sandbox(id: a)?.certificateAuthority)
        let opened = try #require(published.last?.sandboxes[a]?.certificateAuthority)
        #expect(stored.certificatePEM == opened.certificatePEM)
        #expect(try await control.certificateAuthorityPEM(Self.admin, id: a) == opened.certificatePEM)
        #expect(try SandboxAuthorities.open(stored, sandboxID: a, with: key).privateKeyDER == opened.privateKeyDER)
        _ = try LeafCertificate.issue(for: DomainName(canonical: "x.test"), by: opened)
        let clone = try #require(published.last?.sandboxes[b]?.certificateAuthority)
        #expect(!clone.isSame(as: opened), "a clone gets a CA of its own, never a copy")
    }

    @Test("another tenant's sandbox CA is not found; deleting the sandbox deletes its CA")
    func tenancyAndDeletion() async throws {
        let store = InMemoryStore(), published = Published()
        let control = try await Self.control(store, key: .random(), published: published)
        let id = try await control.createSandbox(Self.admin, SandboxCreateInput()).record.id
        let other = try await control.createTenant(Self.admin, name: "other")
        let stranger = Caller(tenantID: other.tenant.id, keyID: other.key.id, isAdmin: false)
        await #expect(throws: ControlError.sandboxNotFound) { try await control.certificateAuthorityPEM(stranger, id: id) }
        try await control.deleteSandbox(Self.admin, id: id)
        await #expect(throws: ControlError.sandboxNotFound) { try await control.certificateAuthorityPEM(Self.admin, id: id) }
        #expect(try await store.sealedValueCount() == 0)
        #expect(published.last?.sandboxes[id] == nil)
    }

    @Test("a sandbox made before CAs existed gets one at start, kept across restarts")
    func olderSandboxAtStart() async throws {
        let store = InMemoryStore(), key = SecretsKey.random()
        _ = try await Self.control(store, key: key)
        let t = Timestamp(milliseconds: 1_700_000_000_000)
        try await store.createSandbox(SandboxRecord(id: "sbx_old", tenantID: ControlPlane.defaultTenantID, proxyToken: "tok",
                                                    createdAt: t, updatedAt: t), rules: [])
        let published = Published()
        _ = try await Self.control(store, key: key, published: published)
        let stored = try #require(try await store.sandbox(id: "sbx_old")?.certificateAuthority)
        #expect(published.last?.sandboxes["sbx_old"]?.certificateAuthority?.certificatePEM == stored.certificatePEM)
        let again = Published()
        _ = try await Self.control(store, key: key, published: again)
        #expect(try await store.sandbox(id: "sbx_old")?.certificateAuthority == stored, "not minted again")
        #expect(again.last?.sandboxes["sbx_old"]?.certificateAuthority?.certificatePEM == stored.certificatePEM)
    }

    @Test("a CA key that does not open leaves the sandbox without a CA in the snapshot (fail closed), named for the log")
    func unopened() async throws {
        let store = InMemoryStore()
        let first = try await Self.control(store, key: .random())
        let id = try await first.createSandbox(Self.admin, SandboxCreateInput()).record.id
        let published = Published()
        let second = try await Self.control(store, key: .random(), published: published)
        #expect(await second.unopenedAuthorities == [id])
        let policy = try #require(published.last?.sandboxes[id])
        #expect(policy.certificateAuthority == nil)
        #expect(try await second.certificateAuthorityPEM(Self.admin, id: id).hasPrefix("-----BEGIN CERTIFICATE-----"),
                "the certificate is public: still served")
    }

    @Test("rules keep inspect; inspect: false passes while no credential needs the host")
    func inspectRules() async throws {
        let control = try await Self.control(InMemoryStore(), key: .random())
        let id = try await control.createSandbox(Self.admin, SandboxCreateInput()).record.id
        let on = try await control.addSandboxRule(Self.admin, id: id, RuleDraft(action: "allow", host: "api.example.test", inspect: true))
        let off = try await control.addSandboxRule(Self.admin, id: id, RuleDraft(action: "allow", host: "cdn.example.test", inspect: false))
        #expect(on.rule.inspect == true && off.rule.inspect == false)
        let same = try await control.addSandboxRule(Self.admin, id: id, RuleDraft(action: "allow", host: "api.example.test", inspect: false))
        #expect(same.rule.id != on.rule.id, "a rule that differs only in inspect is another rule")
        await #expect(throws: ControlError.self) {
            try await control.addSandboxRule(Self.admin, id: id, RuleDraft(action: "deny", host: "x.test", inspect: true))
        }
        #expect(await control.inspectRefusal(off.rule, owner: .sandbox(id)) == nil)
    }
}
