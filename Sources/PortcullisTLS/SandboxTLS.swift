import Foundation
import NIOCore
import NIOSSL
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy
import Synchronization

/// The runtime's `TLSProvider` (INSPECTION.md, "Inside HTTPS"): leaves from each sandbox's
/// own CA for the client leg, and a verified client for the upstream leg.
///
/// Client leg: a leaf for exactly the SNI (ECDSA P-256, 24 h, subjectAltName = the host) is
/// issued on first use and kept, with a ready `NIOSSLContext` per ALPN list, in one LRU of
/// `TerminationSettings.leafCacheCapacity` entries keyed by (sandbox, SNI), so a handshake
/// costs no signing. A leaf is issued again once half its life is gone (before it expires),
/// or when the sandbox's CA is not the one it was issued by. A sandbox without a CA never
/// gets a leaf.
///
/// Upstream leg: verified against the system trust store plus `UpstreamTrust.certificates`,
/// the host name checked against the target; a failed verification is an error on the
/// upstream channel, never a fallback.
///
/// Note to maintainers: the lock is never held while signing or building a context: a miss
/// issues outside it and inserts after (two handshakes racing for one new host may both
/// sign; the first insert wins and the other's leaf is used once).
public final class SandboxTLS: TLSProvider {
    /// A leaf is issued again after this much of its life.
    public static let renewalAge: TimeInterval = LeafCertificate.lifetime / 2
    /// How long closing an upstream waits for its close_notify.
    public static let upstreamShutdownTimeout: TimeAmount = .milliseconds(200)
    /// ALPN lists per leaf (and client contexts) kept; the proxy uses one or two.
    static let maxALPNLists = 8

    struct LeafKey: Hashable {
        let sandboxID: String
        let sni: String
    }

    struct LeafEntry {
        let authorityDER: [UInt8]
        let leaf: LeafCertificate
        let certificate: NIOSSLCertificate
        let key: NIOSSLPrivateKey
        var contexts: [[String]: NIOSSLContext]
    }

    struct State {
        var leaves: LRUCache<LeafKey, LeafEntry>
        var clientContexts: [[String]: NIOSSLContext] = [:]
        var issued = 0
    }

    private let state: Mutex<State>
    private let authorities: @Sendable (String) -> SandboxCertificateAuthority?
    private let trust: UpstreamTrust
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - authorities: the CA of a sandbox, from the snapshot in force (nil: none).
    ///   - now: the clock leaves are issued and renewed by (tests pass their own).
    public init(settings: TerminationSettings, authorities: @escaping @Sendable (String) -> SandboxCertificateAuthority?,
                now: @escaping @Sendable () -> Date = { Date() }) {
        state = Mutex(State(leaves: LRUCache(capacity: max(1, settings.leafCacheCapacity))))
        self.authorities = authorities
        self.trust = settings.upstreamTrust
        self.now = now
    }

    /// The provider `serve` gives the gateway (`GatewayConfiguration.tls`): each sandbox's CA
    /// read from the snapshot in force (`PolicyRegistry.snapshot`) at each leaf's issue.
    public convenience init(settings: TerminationSettings, snapshot: @escaping @Sendable () -> GatewaySnapshot,
                            now: @escaping @Sendable () -> Date = { Date() }) {
        self.init(settings: settings, authorities: { id in snapshot().sandboxes[id]?.certificateAuthority }, now: now)
    }

    // MARK: TLSProvider

    public func serverHandler(sandboxID: String, sni: DomainName, alpn: [String]) throws -> any ChannelHandler {
        NIOSSLServerHandler(context: try serverContext(sandboxID: sandboxID, sni: sni, alpn: alpn))
    }

    public func clientHandler(host: TargetHost, alpn: [String]) throws -> any ChannelHandler {
        guard case .name(let name) = host else {
            throw TerminationError("a terminated upstream needs a host name to verify, not the address \(host)")
        }
        return try NIOSSLClientHandler(context: try clientContext(alpn: alpn), serverHostname: name.text)
    }

    // MARK: Client leg

    /// The server context for `sni` in `sandboxID`: from the cache, or a leaf issued now.
    public func serverContext(sandboxID: String, sni: DomainName, alpn: [String]) throws -> NIOSSLContext {
        guard let authority = authorities(sandboxID) else {
            throw TerminationError("sandbox \(sandboxID) has no certificate authority, so no connection of it is terminated")
        }
        let key = LeafKey(sandboxID: sandboxID, sni: sni.text)
        let time = now()
        let cached: LeafEntry? = state.withLock { s in
            guard let entry = s.leaves.value(for: key) else { return nil }
            guard Self.isCurrent(entry, authority: authority, at: time) else {
                s.leaves.removeValue(for: key)
                return nil
            }
            return entry
        }
        if let cached, let context = cached.contexts[alpn] { return context }
        var entry = try cached ?? issue(sni, by: authority, at: time)
        let context = try Self.serverContext(entry, alpn: alpn)
        return state.withLock { s in
            if let current = s.leaves.peek(key), Self.isCurrent(current, authority: authority, at: time) {
                if let raced = current.contexts[alpn] { return raced }
                entry = current
            }
            if entry.contexts.count >= Self.maxALPNLists { entry.contexts.removeAll() }
            entry.contexts[alpn] = context
            s.leaves.set(entry, for: key)
            return context
        }
    }

    static func isCurrent(_ entry: LeafEntry, authority: SandboxCertificateAuthority, at time: Date) -> Bool {
        entry.authorityDER == authority.certificateDER && time < entry.leaf.notBefore.addingTimeInterval(renewalAge)
            && time >= entry.leaf.notBefore
    }

    private func issue(_ sni: DomainName, by authority: SandboxCertificateAuthority, at time: Date) throws -> LeafEntry {
        let leaf: LeafCertificate
        do { leaf = try LeafCertificate.issue(for: sni, by: authority, now: time) } catch {
            throw TerminationError("could not issue a certificate for \(sni): \(error)")
        }
        state.withLock { $0.issued += 1 }
        return LeafEntry(authorityDER: authority.certificateDER, leaf: leaf,
                         certificate: try NIOSSLCertificate(bytes: leaf.certificateDER, format: .der),
                         key: try NIOSSLPrivateKey(bytes: leaf.privateKeyDER, format: .der), contexts: [:])
    }

    static func serverContext(_ entry: LeafEntry, alpn: [String]) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(entry.certificate)],
                                                                     privateKey: .privateKey(entry.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = alpn
        return try NIOSSLContext(configuration: configuration)
    }

    // MARK: Upstream leg

    /// The client context offering `alpn`, built once per list (loading the trust store is
    /// the expensive part).
    func clientContext(alpn: [String]) throws -> NIOSSLContext {
        if let context = state.withLock({ $0.clientContexts[alpn] }) { return context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = trust.useSystemRoots ? .default : .certificates(trust.certificates)
        if trust.useSystemRoots, !trust.certificates.isEmpty {
            configuration.additionalTrustRoots = [.certificates(trust.certificates)]
        }
        configuration.applicationProtocols = alpn
        // The gateway closes an upstream it is done with: no lingering for its close_notify.
        configuration.shutdownTimeout = Self.upstreamShutdownTimeout
        let context = try NIOSSLContext(configuration: configuration)
        return state.withLock { s in
            if let raced = s.clientContexts[alpn] { return raced }
            if s.clientContexts.count >= Self.maxALPNLists { s.clientContexts.removeAll() }
            s.clientContexts[alpn] = context
            return context
        }
    }

    // MARK: Figures

    /// Leaves in the cache now.
    public var cachedLeaves: Int { state.withLock { $0.leaves.count } }
    /// Leaves issued since start (a hit issues none).
    public var leavesIssued: Int { state.withLock { $0.issued } }
}
