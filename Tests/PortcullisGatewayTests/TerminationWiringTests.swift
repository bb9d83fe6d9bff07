import NIOSSL
@testable import PortcullisGateway
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisTLS
import Testing

/// The gateway's TLSProvider reads each sandbox's CA from the snapshot in force: what the
/// lead's termination tests build on (a snapshot whose sandbox has a CA, `--upstream-ca`
/// through `GatewayConfiguration.termination`).
@Suite struct TerminationWiringTests {
    static func snapshot(version: UInt64, authority: SandboxCertificateAuthority?) -> GatewaySnapshot {
        let base = Fixtures.snapshot(version: version)
        let s = base.sandboxes[Fixtures.sandboxID]!
        return GatewaySnapshot(version: version, sandboxes: [
            s.sandboxID: SandboxPolicy(sandboxID: s.sandboxID, tenantID: s.tenantID, proxyToken: s.proxyToken, policy: s.policy,
                                       certificateAuthority: authority),
        ])
    }

    @Test func leavesComeFromTheCAOfTheSnapshotInForce() throws {
        let first = try SandboxAuthorities.mint(sandboxID: Fixtures.sandboxID)
        let registry = PolicyRegistry(Self.snapshot(version: 1, authority: first))
        let gateway = Gateway(configuration: GatewayConfiguration(), registry: registry, auditRepository: MemoryAuditRepository())
        let host = DomainName(canonical: "tls.test")
        let context = try gateway.tls.serverContext(sandboxID: Fixtures.sandboxID, sni: host, alpn: ["http/1.1"])
        #expect(try gateway.tls.serverContext(sandboxID: Fixtures.sandboxID, sni: host, alpn: ["http/1.1"]) === context)

        registry.update(Self.snapshot(version: 2, authority: nil))
        #expect(throws: TerminationError.self, "a sandbox whose CA is gone from the snapshot gets no leaf") {
            try gateway.tls.serverContext(sandboxID: Fixtures.sandboxID, sni: host, alpn: ["http/1.1"])
        }
        registry.update(Self.snapshot(version: 3, authority: try SandboxAuthorities.mint(sandboxID: Fixtures.sandboxID)))
        #expect(try gateway.tls.serverContext(sandboxID: Fixtures.sandboxID, sni: host, alpn: ["http/1.1"]) !== context,
                "another CA, another leaf")
        #expect(throws: TerminationError.self) { try gateway.tls.serverContext(sandboxID: "sbx_unknown", sni: host, alpn: ["h2"]) }
    }
}
