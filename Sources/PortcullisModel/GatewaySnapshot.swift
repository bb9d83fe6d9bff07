import PortcullisPolicy

/// One sandbox as the data plane sees it: identity, proxy token, compiled policy.
public struct SandboxPolicy: Sendable {
    public let sandboxID: String
    public let tenantID: String
    public let proxyToken: String
    public let policy: CompiledPolicy
    /// The credentials attached to the sandbox, secrets opened (in memory only).
    public let credentials: [CredentialBinding]

    public init(sandboxID: String, tenantID: String, proxyToken: String, policy: CompiledPolicy,
                credentials: [CredentialBinding] = []) {
        self.sandboxID = sandboxID
        self.tenantID = tenantID
        self.proxyToken = proxyToken
        self.policy = policy
        self.credentials = credentials
    }
}

/// Everything the data plane decides with, immutable: compiled once per policy change by
/// whoever owns the store, swapped in whole (`PolicyRegistry.update`), read once per connection.
public struct GatewaySnapshot: Sendable {
    public let version: UInt64
    public let sandboxes: [String: SandboxPolicy]
    /// Source address → sandbox id, for clients that send no credential.
    public let bySourceAddress: [IPAddress: String]

    public init(version: UInt64, sandboxes: [String: SandboxPolicy], bySourceAddress: [IPAddress: String] = [:]) {
        self.version = version
        self.sandboxes = sandboxes
        self.bySourceAddress = bySourceAddress
    }

    public static let empty = GatewaySnapshot(version: 0, sandboxes: [:])
}
