import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import Synchronization

/// Where sandboxes point their proxy settings.
public struct ProxyEndpoints: Hashable, Sendable {
    public var host: String
    public var httpPort: Int
    public var socksPort: Int

    public init(host: String = "127.0.0.1", httpPort: Int = 3128, socksPort: Int = 1080) {
        self.host = host
        self.httpPort = httpPort
        self.socksPort = socksPort
    }
}

/// The control plane: every operation of the API, over the store, with policy changes
/// compiled and handed to the data plane before the operation returns.
///
/// Note to maintainers: the in-memory state below is a cache of the database, never the
/// truth. A mutation validates against it, then writes through `commit(_:_:)`: one store
/// transaction that raises the database's policy version and logs what changed; then
/// `catchUp()` reads the change log by version (as it does for every other node's
/// changes, on a doorbell, a safety poll or an API call that finds the database ahead)
/// and reloads, recompiles and publishes only what changed. Catch-ups run one at a time
/// and only move forward, so the published snapshot never goes back a version.
public actor ControlPlane {
    let store: any Store
    let now: @Sendable () -> Timestamp
    let addressGuard: AddressGuard
    /// Which source addresses sandboxes may claim.
    let sourceAddressPolicy: SourceAddressPolicy
    /// Where sandboxes point their proxy settings (the bound ports, once known).
    public private(set) var proxy: ProxyEndpoints
    let publish: @Sendable (GatewaySnapshot) -> Void
    /// Live audit subscribers; feed it by wrapping the audit repository in
    /// `BroadcastingAuditRepository`.
    public nonisolated let broadcaster: AuditBroadcaster
    /// Seals the sandbox CAs' keys and credential values (and opens them for the data plane).
    let secrets: SecretsKey
    /// Sandboxes whose CA key does not open under `secrets` (corrupt or tampered rows): none
    /// of their connections is terminated. `serve` logs them at start.
    public internal(set) var unopenedAuthorities: Set<String> = []

    // The cache of what policies are made of.
    var tenants: [String: TenantRecord] = [:]
    var sandboxes: [String: SandboxRecord] = [:]
    var sandboxesByTenant: [String: Set<String>] = [:]
    var rules: [RuleOwner: [StoredRule]] = [:]
    var tenantProfiles: [String: [String: ProfileRecord]] = [:]
    /// Every tenant's credentials by id (values sealed) and each sandbox's attachments.
    var credentials: [String: CredentialRecord] = [:]
    var attachments: [String: [CredentialAttachment]] = [:]
    /// Credential values opened for the data plane, by credential id, with the sealed bytes
    /// they came from (a rotation seals anew, so a changed value is opened again).
    var openedValues: [String: (sealed: [UInt8], value: String)] = [:]
    /// Credentials whose value does not open under `secrets` (corrupt or tampered rows):
    /// their placeholders are refused as unknown. `serve` logs them at start.
    public internal(set) var unopenedCredentials: Set<String> = []
    var compiled: [String: SandboxPolicy] = [:]
    var bySource: [IPAddress: String] = [:]
    /// The gateway's own addresses as last read (at load and at each batch of changes), so
    /// the source index leaves out addresses no sandbox may claim (`cache`).
    var ownAddressSnapshot: Set<IPAddress> = []
    var layerCache = LayerCache()
    /// The policy version applied (published): the newest change read from the log.
    var version: UInt64 = 0
    /// Whether the policy has been loaded once (`/readyz`).
    public private(set) var loaded = false
    let catchUpLock = AsyncSerialLock()
    var appliedHandler: (@Sendable (UInt64) -> Void)?

    /// The tenant the admin key belongs to.
    public static let defaultTenantID = "tnt_default"
    public static let defaultTenantName = "default"
    /// Pending entries kept per sandbox.
    public let pendingCapacity: Int

    /// `secrets` is the key from `--secrets-key-file` (`SecretsKeyCheck.load`); the default,
    /// a random key that dies with the process, suits tests and nothing else.
    public init(store: any Store, addressGuard: AddressGuard = AddressGuard(), proxy: ProxyEndpoints = ProxyEndpoints(),
                pendingCapacity: Int = PendingQueue.defaultCapacity, broadcaster: AuditBroadcaster = AuditBroadcaster(),
                sourceAddressPolicy: SourceAddressPolicy = SourceAddressPolicy(),
                secrets: SecretsKey = .random(),
                now: @escaping @Sendable () -> Timestamp, publish: @escaping @Sendable (GatewaySnapshot) -> Void) {
        self.broadcaster = broadcaster
        self.secrets = secrets
        self.store = store
        self.addressGuard = addressGuard
        self.sourceAddressPolicy = sourceAddressPolicy
        self.proxy = proxy
        self.pendingCapacity = pendingCapacity
        self.now = now
        self.publish = publish
    }

    /// Creates the `default` tenant when there is none, gives sandboxes older than CAs theirs,
    /// then loads everything from the store, compiles every sandbox and publishes the first
    /// snapshot.
    public func start() async throws {
        if try await store.tenant(id: Self.defaultTenantID) == nil {
            let t = now()
            let store = self.store
            do {
                _ = try await store.commitPolicyChange(.tenant(Self.defaultTenantID)) {
                    try await store.createTenant(TenantRecord(id: Self.defaultTenantID, name: Self.defaultTenantName,
                                                              createdAt: t, updatedAt: t))
                }
            } catch let e as StoreError where e.kind == .conflict {
                // Another node starting at the same time created it first.
            }
        }
        try await giveAuthoritiesToOlderSandboxes()
        await catchUpLock.acquire()
        do {
            try await loadAll()
            await catchUpLock.release()
        } catch {
            await catchUpLock.release()
            throw error
        }
        loaded = true
    }

    /// Called with each newly applied version (the node registry records it).
    public func setAppliedHandler(_ handler: @escaping @Sendable (UInt64) -> Void) { appliedHandler = handler }

    // MARK: compiling

    /// The engine's view of a profile a tenant may attach: built-in, or the tenant's own.
    func profile(tenantID: String, name: String) -> Profile? {
        if let builtin = BuiltinProfiles.named(name) { return builtin }
        guard let record = tenantProfiles[tenantID]?[name] else { return nil }
        return Profile(name: name, description: record.description, builtin: false, rules: record.rules.map(\.rule))
    }

    func compile(_ sandboxID: String) {
        guard let s = sandboxes[sandboxID] else {
            compiled[sandboxID] = nil
            return
        }
        compiled[sandboxID] = SandboxPolicy(sandboxID: s.id, tenantID: s.tenantID, proxyToken: s.proxyToken,
                                            policy: compiledPolicy(for: s), credentials: bindings(of: s.id),
                                            certificateAuthority: openedAuthority(of: s))
    }

    func publishSnapshot() {
        publish(GatewaySnapshot(version: version, sandboxes: compiled, bySourceAddress: bySource))
    }

    /// Writes a policy change through the store (one transaction that raises the policy
    /// version and logs `scope`), then applies it here before returning.
    @discardableResult
    func commit(_ scope: PolicyChangeScope, _ writes: @Sendable () async throws -> Void) async throws -> UInt64 {
        let committed: UInt64
        do {
            committed = try await store.commitPolicyChange(scope, writes)
        } catch let e as StoreError where e.kind == .conflict {
            throw ControlError.conflict(e.message)
        }
        PolicyCommit.current?.record(committed)
        try await catchUp()
        return committed
    }

    /// The compiled policy the data plane uses now for a sandbox.
    public func compiledPolicy(sandboxID: String) -> CompiledPolicy? { compiled[sandboxID]?.policy }

    /// Sets the proxy endpoints sandboxes are told about (once the listeners are bound).
    public func setProxyEndpoints(_ endpoints: ProxyEndpoints) { proxy = endpoints }

    /// The current policy version.
    public var policyVersion: UInt64 { version }
}

/// The policy version a request's changes committed, for `?wait=fleet`: the API binds one
/// per request (`PolicyCommit.$current.withValue`), `ControlPlane` records into it.
public final class PolicyCommit: Sendable {
    @TaskLocal public static var current: PolicyCommit?
    private let newest = Mutex<UInt64?>(nil)

    public init() {}

    func record(_ version: UInt64) { newest.withLock { $0 = max($0 ?? 0, version) } }

    /// The highest version committed in this request; nil when it changed no policy.
    public var version: UInt64? { newest.withLock { $0 } }
}
