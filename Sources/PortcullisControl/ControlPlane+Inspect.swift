import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// Why `rule` may not be stored for `owner`, or nil: INSPECTION.md allows `inspect:
    /// false` only where no credential needs the host (a credential is injected only on a
    /// terminated connection), 400 otherwise.
    ///
    /// Note to maintainers: credentials arrive with issue 18. This is their hook: once a
    /// credential attached to a sandbox of the owner's tenant is bound to a host the rule
    /// covers, answer `inspect: false cannot apply to HOST: credential NAME needs it
    /// terminated`. The same check belongs in attaching a credential (refused while an
    /// `inspect: false` rule covers its host).
    func inspectRefusal(_ rule: Rule, owner: RuleOwner) -> String? {
        guard rule.inspect == false, let credential = credentialNeedingTermination(of: rule.host, owner: owner) else {
            return nil
        }
        return "inspect: false cannot apply to \(rule.host): credential \(Escape.quoted(credential)) needs it terminated"
    }

    /// The name of a credential that needs `host` terminated for `owner`'s sandboxes; none
    /// exist before issue 18.
    func credentialNeedingTermination(of host: HostPattern, owner: RuleOwner) -> String? { nil }
}
