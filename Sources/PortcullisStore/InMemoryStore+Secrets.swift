import PortcullisModel

extension InMemoryStore {
    public func secretsKeyCheck() async throws -> [UInt8]? { keyCheck }

    public func storeSecretsKeyCheck(_ sealed: [UInt8]) async throws -> [UInt8] {
        if keyCheck == nil { keyCheck = sealed }
        return keyCheck ?? sealed
    }

    public func sealedValueCount() async throws -> Int {
        sandboxesByID.values.count { $0.certificateAuthority != nil } + credentialsByID.count
    }

    public func setCertificateAuthority(_ authority: SealedCertificateAuthority, sandboxID: String) async throws
        -> SealedCertificateAuthority? {
        guard var sandbox = sandboxesByID[sandboxID] else { return nil }
        if sandbox.certificateAuthority == nil {
            sandbox.certificateAuthority = authority
            sandboxesByID[sandboxID] = sandbox
        }
        return sandbox.certificateAuthority
    }
}
