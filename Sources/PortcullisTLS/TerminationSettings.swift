import NIOSSL

/// How the runtime terminates TLS (`SandboxTLS`, given to the gateway as `GatewayConfiguration.tls`).
public struct TerminationSettings: Sendable {
    /// What the upstream leg trusts (`serve --upstream-ca`).
    public var upstreamTrust = UpstreamTrust()
    /// Leaves kept, across all sandboxes (each with its NIOSSL contexts); beyond it the
    /// least recently used is dropped and issued again when next needed.
    public var leafCacheCapacity = 4096

    public init() {}
}

/// The upstream leg's trust: the system's roots plus every `--upstream-ca` file.
public struct UpstreamTrust: Sendable {
    /// The certificates of the `--upstream-ca` files.
    public var certificates: [NIOSSLCertificate]
    /// Whether the system trust store counts too (tests may turn it off).
    public var useSystemRoots: Bool

    public init(certificates: [NIOSSLCertificate] = [], useSystemRoots: Bool = true) {
        self.certificates = certificates
        self.useSystemRoots = useSystemRoots
    }

    /// Reads each file (one or more PEM certificates); a file that cannot be read or holds
    /// no certificate throws, naming it.
    public static func load(files: [String], useSystemRoots: Bool = true) throws(TerminationError) -> UpstreamTrust {
        var certificates: [NIOSSLCertificate] = []
        for file in files {
            let found: [NIOSSLCertificate]
            do { found = try NIOSSLCertificate.fromPEMFile(file) } catch {
                throw TerminationError("--upstream-ca \(file): not a readable file of PEM certificates (\(error))")
            }
            guard !found.isEmpty else { throw TerminationError("--upstream-ca \(file): holds no PEM certificate") }
            certificates += found
        }
        return UpstreamTrust(certificates: certificates, useSystemRoots: useSystemRoots)
    }
}
