import Foundation
import NIOCore
import NIOSSL
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisTLS
import Synchronization
import Testing

@Suite("Terminated TLS: leaves from the sandbox's CA on the client leg, over real loopback handshakes")
struct SandboxTLSTests {
    static let host = DomainName(canonical: "api.example.test")

    /// A provider over a fixed set of sandbox CAs.
    static func provider(_ authorities: [String: SandboxCertificateAuthority], capacity: Int = 16,
                         clock: TestClock? = nil) -> SandboxTLS {
        var settings = TerminationSettings()
        settings.leafCacheCapacity = capacity
        let table = Mutex(authorities)
        if let clock {
            return SandboxTLS(settings: settings, authorities: { id in table.withLock { $0[id] } }, now: { clock.now })
        }
        return SandboxTLS(settings: settings, authorities: { id in table.withLock { $0[id] } })
    }

    @Test("a leaf validates against its own sandbox's CA, for exactly the SNI, and never against another sandbox's")
    func leafValidatesOnlyAgainstItsCA() async throws {
        let a = try SandboxAuthorities.mint(sandboxID: "sbx_a"), b = try SandboxAuthorities.mint(sandboxID: "sbx_b")
        let tls = Self.provider(["sbx_a": a, "sbx_b": b])
        let loop = LoopbackTLS()
        let port = try await loop.server { try tls.serverHandler(sandboxID: "sbx_a", sni: Self.host, alpn: ["h2", "http/1.1"]) }

        let own = try await loop.handshake(port: port, trusting: a, sni: "api.example.test")
        #expect(own.succeeded, "\(own)")
        let other = try await loop.handshake(port: port, trusting: b, sni: "api.example.test")
        #expect(!other.succeeded, "sandbox b's CA does not validate sandbox a's leaf")
        let otherName = try await loop.handshake(port: port, trusting: a, sni: "www.example.test")
        #expect(!otherName.succeeded, "the leaf names api.example.test only")
        #expect(tls.leavesIssued == 1, "one leaf served all three handshakes")
        await loop.shutdown()
    }

    @Test("the server leg offers the ALPN list it is given")
    func alpn() async throws {
        let a = try SandboxAuthorities.mint(sandboxID: "sbx_a")
        let tls = Self.provider(["sbx_a": a])
        let loop = LoopbackTLS()
        let both = try await loop.server { try tls.serverHandler(sandboxID: "sbx_a", sni: Self.host, alpn: ["h2", "http/1.1"]) }
        let onlyOne = try await loop.server { try tls.serverHandler(sandboxID: "sbx_a", sni: Self.host, alpn: ["http/1.1"]) }
        #expect(try await loop.handshake(port: both, trusting: a, sni: Self.host.text, alpn: ["h2", "http/1.1"]).alpn == "h2")
        #expect(try await loop.handshake(port: both, trusting: a, sni: Self.host.text, alpn: ["http/1.1"]).alpn == "http/1.1")
        #expect(try await loop.handshake(port: onlyOne, trusting: a, sni: Self.host.text, alpn: ["h2", "http/1.1"]).alpn == "http/1.1")
        #expect(tls.leavesIssued == 1, "one leaf, a context per ALPN list")
        await loop.shutdown()
    }

    @Test("a sandbox without a CA never gets a leaf")
    func noAuthorityNoLeaf() throws {
        let tls = Self.provider(["sbx_a": try SandboxAuthorities.mint(sandboxID: "sbx_a")])
        #expect(throws: TerminationError.self) { try tls.serverHandler(sandboxID: "sbx_none", sni: Self.host, alpn: ["http/1.1"]) }
        #expect(tls.leavesIssued == 0)
        #expect(tls.cachedLeaves == 0)
    }

    @Test("the cache is bounded, keyed by sandbox and SNI, and hands out the same context until the leaf is evicted")
    func boundedCache() throws {
        let a = try SandboxAuthorities.mint(sandboxID: "sbx_a"), b = try SandboxAuthorities.mint(sandboxID: "sbx_b")
        let tls = Self.provider(["sbx_a": a, "sbx_b": b], capacity: 2)
        let x = DomainName(canonical: "x.test"), y = DomainName(canonical: "y.test")
        let ax = try tls.serverContext(sandboxID: "sbx_a", sni: x, alpn: ["http/1.1"])
        #expect(try tls.serverContext(sandboxID: "sbx_a", sni: x, alpn: ["http/1.1"]) === ax, "a hit costs no signing")
        #expect(tls.leavesIssued == 1)
        let bx = try tls.serverContext(sandboxID: "sbx_b", sni: x, alpn: ["http/1.1"])
        #expect(bx !== ax, "each sandbox has its own leaf for a host")
        #expect(tls.leavesIssued == 2 && tls.cachedLeaves == 2)
        _ = try tls.serverContext(sandboxID: "sbx_a", sni: y, alpn: ["http/1.1"])
        #expect(tls.leavesIssued == 3)
        #expect(tls.cachedLeaves == 2, "bounded: the least recently used leaf (a, x) made room")
        #expect(try tls.serverContext(sandboxID: "sbx_b", sni: x, alpn: ["http/1.1"]) === bx)
        #expect(tls.leavesIssued == 3)
        #expect(try tls.serverContext(sandboxID: "sbx_a", sni: x, alpn: ["http/1.1"]) !== ax, "(a, x) was evicted and issued again")
        #expect(tls.leavesIssued == 4 && tls.cachedLeaves == 2)
        _ = try tls.serverContext(sandboxID: "sbx_a", sni: x, alpn: ["h2", "http/1.1"])
        #expect(tls.leavesIssued == 4, "another ALPN list reuses the leaf")
    }

    @Test("a leaf is issued again once half its 24 hours are gone, and when the sandbox's CA changes")
    func renewal() throws {
        let clock = TestClock(Date(timeIntervalSince1970: 1_800_000_000))
        let a = try SandboxAuthorities.mint(sandboxID: "sbx_a", now: clock.now)
        let authorities = Mutex(["sbx_a": a])
        let tls = SandboxTLS(settings: TerminationSettings(), authorities: { id in authorities.withLock { $0[id] } }, now: { clock.now })
        let first = try tls.serverContext(sandboxID: "sbx_a", sni: Self.host, alpn: ["http/1.1"])
        clock.advance(11 * 3600)
        #expect(try tls.serverContext(sandboxID: "sbx_a", sni: Self.host, alpn: ["http/1.1"]) === first)
        clock.advance(2 * 3600)
        let renewed = try tls.serverContext(sandboxID: "sbx_a", sni: Self.host, alpn: ["http/1.1"])
        #expect(renewed !== first, "renewed well before the leaf expires")
        #expect(tls.leavesIssued == 2 && tls.cachedLeaves == 1)
        authorities.withLock { $0["sbx_a"] = try! SandboxAuthorities.mint(sandboxID: "sbx_a", now: clock.now) }
        #expect(try tls.serverContext(sandboxID: "sbx_a", sni: Self.host, alpn: ["http/1.1"]) !== renewed,
                "a leaf of the old CA is not served under the new one")
        #expect(tls.leavesIssued == 3)
    }

    @Test("many handshakes at once for new hosts all complete, and the cache stays within its bound")
    func concurrentMisses() async throws {
        let a = try SandboxAuthorities.mint(sandboxID: "sbx_a")
        let tls = Self.provider(["sbx_a": a], capacity: 4)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<32 {
                group.addTask { _ = try tls.serverContext(sandboxID: "sbx_a", sni: DomainName(canonical: "h\(i % 8).test"), alpn: ["http/1.1"]) }
            }
            try await group.waitForAll()
        }
        #expect(tls.cachedLeaves <= 4)
        #expect(tls.leavesIssued >= 8)
    }
}
