import PortcullisModel
import PortcullisPolicy

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
/// Note to maintainers: an actor, so mutations are serialised; each mutation writes the
/// store first (durable before acknowledged), then updates the in-memory mirror, then
/// recompiles the sandboxes it affects and publishes a new snapshot.
public actor ControlPlane {
    let store: any Store
    let now: @Sendable () -> Timestamp
    let addressGuard: AddressGuard
    /// Where sandboxes point their proxy settings (the bound ports, once known).
    public private(set) var proxy: ProxyEndpoints
    let publish: @Sendable (GatewaySnapshot) -> Void
    /// Live audit subscribers; feed it by wrapping the audit repository in
    /// `BroadcastingAuditRepository`.
    public nonisolated let broadcaster: AuditBroadcaster

    // The in-memory mirror of what policies are made of.
    var tenants: [String: TenantRecord] = [:]
    var sandboxes: [String: SandboxRecord] = [:]
    var rules: [RuleOwner: [StoredRule]] = [:]
    var tenantProfiles: [String: [String: ProfileRecord]] = [:]
    var compiled: [String: SandboxPolicy] = [:]
    var version: UInt64 = 0

    /// The tenant the admin key belongs to.
    public static let defaultTenantID = "tnt_default"
    public static let defaultTenantName = "default"
    /// Pending entries kept per sandbox.
    public let pendingCapacity: Int

    public init(store: any Store, addressGuard: AddressGuard = AddressGuard(), proxy: ProxyEndpoints = ProxyEndpoints(),
                pendingCapacity: Int = PendingQueue.defaultCapacity, broadcaster: AuditBroadcaster = AuditBroadcaster(),
                now: @escaping @Sendable () -> Timestamp, publish: @escaping @Sendable (GatewaySnapshot) -> Void) {
        self.broadcaster = broadcaster
        self.store = store
        self.addressGuard = addressGuard
        self.proxy = proxy
        self.pendingCapacity = pendingCapacity
        self.now = now
        self.publish = publish
    }

    /// Loads everything from the store, compiles every sandbox and publishes the first
    /// snapshot. Creates the `default` tenant when there is none.
    public func start() async throws {
        version = try await store.policyVersion()
        if try await store.tenant(id: Self.defaultTenantID) == nil {
            let t = now()
            try await store.createTenant(TenantRecord(id: Self.defaultTenantID, name: Self.defaultTenantName, createdAt: t, updatedAt: t))
        }
        tenants = Dictionary(uniqueKeysWithValues: try await store.tenants().map { ($0.id, $0) })
        sandboxes = Dictionary(uniqueKeysWithValues: try await store.allSandboxes().map { ($0.id, $0) })
        rules = [:]
        for r in try await store.allRules() {
            switch r.owner {
            case .sandbox, .tenant: rules[r.owner, default: []].append(r)
            case .profile, .template: continue
            }
        }
        for key in rules.keys { rules[key]?.sort { $0.position < $1.position } }
        tenantProfiles = [:]
        for p in try await store.allProfiles() { tenantProfiles[p.tenantID, default: [:]][p.name] = p }
        compiled = [:]
        for id in sandboxes.keys { compile(id) }
        publishSnapshot()
    }

    // MARK: compiling

    /// The engine's view of a profile a tenant may attach: built-in, or the tenant's own.
    func profile(tenantID: String, name: String) -> Profile? {
        if let builtin = BuiltinProfiles.named(name) { return builtin }
        guard let record = tenantProfiles[tenantID]?[name] else { return nil }
        return Profile(name: name, description: record.description, builtin: false, rules: record.rules.map(\.rule))
    }

    func layers(of sandbox: SandboxRecord) -> PolicyLayers {
        let tenant = tenants[sandbox.tenantID]
        return PolicyLayers(
            tenantDefaultMode: tenant?.defaultMode ?? .audit,
            sandboxMode: sandbox.ownMode,
            localRules: (rules[.sandbox(sandbox.id)] ?? []).map(\.rule),
            sandboxProfiles: sandbox.profiles.compactMap { profile(tenantID: sandbox.tenantID, name: $0) },
            tenantRules: (rules[.tenant(sandbox.tenantID)] ?? []).map(\.rule)
        )
    }

    func compile(_ sandboxID: String) {
        guard let s = sandboxes[sandboxID] else {
            compiled[sandboxID] = nil
            return
        }
        compiled[sandboxID] = SandboxPolicy(
            sandboxID: s.id, tenantID: s.tenantID, proxyToken: s.proxyToken,
            policy: CompiledPolicy(layers: layers(of: s), version: version, addressGuard: addressGuard))
    }

    func publishSnapshot() {
        var bySource: [IPAddress: String] = [:]
        for s in sandboxes.values {
            for text in s.sourceAddresses {
                if let a = HostParser.parseAddress(text) { bySource[a] = s.id }
            }
        }
        publish(GatewaySnapshot(version: version, sandboxes: compiled, bySourceAddress: bySource))
    }

    /// After a durable change: bump the version, recompile the affected sandboxes (all of a
    /// tenant's when `tenantID` is given), and publish.
    func policyChanged(sandboxes ids: [String] = [], tenantID: String? = nil) async throws {
        version = try await store.bumpPolicyVersion()
        var affected = Set(ids)
        if let tenantID { affected.formUnion(sandboxes.values.filter { $0.tenantID == tenantID }.map(\.id)) }
        // Every other sandbox keeps its compiled policy; only the version moves on for the
        // ones that changed.
        for id in affected { compile(id) }
        publishSnapshot()
    }

    /// The compiled policy the data plane uses now for a sandbox.
    public func compiledPolicy(sandboxID: String) -> CompiledPolicy? { compiled[sandboxID]?.policy }

    /// Sets the proxy endpoints sandboxes are told about (once the listeners are bound).
    public func setProxyEndpoints(_ endpoints: ProxyEndpoints) { proxy = endpoints }

    /// The current policy version.
    public var policyVersion: UInt64 { version }
}
