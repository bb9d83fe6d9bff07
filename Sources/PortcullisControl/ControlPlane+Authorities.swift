import Foundation
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// `GET /api/v1/sandboxes/{id}/ca.pem`: the sandbox's CA certificate (PEM). Another
    /// tenant's sandbox is not found.
    public func certificateAuthorityPEM(_ caller: Caller, id: String) throws -> String {
        let s = try sandbox(caller, id)
        guard let authority = s.certificateAuthority else {
            // Only a sandbox made by an older version on another node, before this node gave it one.
            throw ControlError(status: 503, "sandbox \(id) has no certificate authority yet; try again once a gateway of this version has started")
        }
        return authority.certificatePEM
    }

    /// A new CA for a new sandbox, key sealed under the secrets key.
    func mintAuthority(sandboxID: String) throws -> SealedCertificateAuthority {
        let now = Date(timeIntervalSince1970: Double(now().milliseconds) / 1000)
        do {
            return try SandboxAuthorities.seal(try SandboxAuthorities.mint(sandboxID: sandboxID, now: now),
                                               sandboxID: sandboxID, with: secrets)
        } catch {
            throw ControlError(status: 500, "could not create the sandbox's certificate authority: \(error)")
        }
    }

    /// Gives every sandbox made before CAs existed its CA (at start, before the first load:
    /// the migration that added CAs cannot mint keys). Each batch is one policy change
    /// naming its sandboxes, so nodes already running reload them with their new CAs.
    /// Another node doing the same at once is fine: the store keeps the first CA written and
    /// every node uses that one. Returns how many it made.
    @discardableResult
    func giveAuthoritiesToOlderSandboxes(batch: Int = 1000) async throws -> Int {
        let missing = try await store.allSandboxes().filter { $0.certificateAuthority == nil }.map(\.id)
        var made = 0
        var start = 0
        while start < missing.count {
            let ids = Array(missing[start..<min(start + batch, missing.count)])
            let minted = try ids.map { ($0, try mintAuthority(sandboxID: $0)) }
            let store = self.store
            _ = try await store.commitPolicyChange(.sandboxes(ids)) {
                for (id, authority) in minted { _ = try await store.setCertificateAuthority(authority, sandboxID: id) }
            }
            made += ids.count
            start += ids.count
        }
        return made
    }

    /// The sandbox's CA opened for the data plane (decrypted, in memory only), or nil when it
    /// has none or its key does not open (then none of its connections is terminated, and
    /// `unopenedAuthorities` names it). An opened CA is reused while the sandbox lives: a
    /// CA, once written, never changes.
    func openedAuthority(of s: SandboxRecord) -> SandboxCertificateAuthority? {
        guard let sealed = s.certificateAuthority else { return nil }
        if let opened = compiled[s.id]?.certificateAuthority, opened.certificatePEM == sealed.certificatePEM { return opened }
        do {
            let opened = try SandboxAuthorities.open(sealed, sandboxID: s.id, with: secrets)
            unopenedAuthorities.remove(s.id)
            return opened
        } catch {
            unopenedAuthorities.insert(s.id)
            return nil
        }
    }
}
