import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// Why `rule` may not be stored for `owner`, or nil: INSPECTION.md allows `inspect:
    /// false` only where no credential needs the host (a credential is injected only on a
    /// terminated connection), 400 otherwise. The other direction — attaching a credential
    /// while such a rule applies — is `opaqueConflict(_:sandboxID:)`.
    func inspectRefusal(_ rule: Rule, owner: RuleOwner) -> String? {
        guard rule.inspect == false, let (credential, sandboxID) = credentialNeedingTermination(rule, owner: owner) else {
            return nil
        }
        return "inspect: false cannot apply to \(rule.host): credential \(Escape.quoted(credential)) attached to sandbox \(sandboxID) "
            + "needs it terminated (detach the credential first, or leave inspect out)"
    }

    /// A credential (and the sandbox it is attached to) that `rule` would keep opaque among
    /// the sandboxes `owner`'s rules apply to: the sandbox itself, every sandbox of the
    /// tenant, or those that attach the profile. A template's rules apply to no sandbox yet
    /// (attaching a credential to one made from it is checked then).
    func credentialNeedingTermination(_ rule: Rule, owner: RuleOwner) -> (String, String)? {
        let members: [String]
        switch owner {
        case .sandbox(let id): members = [id]
        case .tenant(let t): members = (sandboxesByTenant[t] ?? []).sorted()
        case .profile(let t, let name):
            members = (sandboxesByTenant[t] ?? []).filter { sandboxes[$0]?.profiles.contains(name) == true }.sorted()
        case .template: return nil
        }
        for id in members {
            for a in attachments[id] ?? [] {
                if let spec = credentials[a.credentialID]?.spec, spec.isKeptOpaque(by: rule) { return (spec.name, id) }
            }
        }
        return nil
    }
}
