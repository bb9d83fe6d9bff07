import PortcullisPolicy

/// One sandbox as the data plane sees it: identity, proxy token, compiled policy, and the
/// certificate authority its terminated connections' leaves are issued by.
public struct SandboxPolicy: Sendable {
    public let sandboxID: String
    public let tenantID: String
    public let proxyToken: String
    public let policy: CompiledPolicy
    /// The credentials attached to the sandbox, secrets opened (in memory only).
    public let credentials: [CredentialBinding]
    /// The sandbox's CA, key decrypted (in memory only); nil when it has none (a sandbox
    /// whose key could not be opened): then no connection of it is terminated.
    public let certificateAuthority: SandboxCertificateAuthority?

    public init(sandboxID: String, tenantID: String, proxyToken: String, policy: CompiledPolicy,
                credentials: [CredentialBinding] = [], certificateAuthority: SandboxCertificateAuthority? = nil) {
        self.sandboxID = sandboxID
        self.tenantID = tenantID
        self.proxyToken = proxyToken
        self.policy = policy
        self.credentials = credentials
        self.certificateAuthority = certificateAuthority
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
