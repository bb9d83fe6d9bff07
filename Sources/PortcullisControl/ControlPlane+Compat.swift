import PortcullisModel
import PortcullisPolicy

/// The MIOSA computers API (002_4351c856c6d963fe.txt): a computer is a sandbox.
extension ControlPlane {
    func compatView(_ s: SandboxRecord) -> CompatPolicyView {
        let mode = view(s).mode
        let local = rules[.sandbox(s.id)] ?? []
        let shown = local.filter { $0.rule.action == (mode == .denylist ? .deny : .allow) }
        return CompatPolicyView(computerID: s.id, mode: mode, rules: shown, updatedAt: s.updatedAt)
    }

    /// `GET /api/v1/computers/{id}/network-policy`.
    public func computerPolicy(_ caller: Caller, id: String) throws -> CompatPolicyView {
        compatView(try sandbox(caller, id, notFound: .computerNotFound))
    }

    /// `PUT`: replaces the whole policy; allowlist rules are allow rules, denylist rules are
    /// deny rules (other modes keep them as allow rules).
    public func setComputerPolicy(_ caller: Caller, id: String, mode text: String, rules input: [CompatRuleInput]?) async throws -> CompatPolicyView {
        var s = try sandbox(caller, id, notFound: .computerNotFound)
        let mode = try parseMode(text)
        let list = input ?? []
        if (mode == .allowlist || mode == .denylist) && list.isEmpty {
            throw ControlError.badRequest("rules required for allowlist/denylist mode")
        }
        guard list.count <= 10_000 else { throw ControlError.badRequest("rules is limited to 10000 rules") }
        let action = mode == .denylist ? "deny" : "allow"
        let newRules = try list.enumerated().map { i, r in
            try makeRule(RuleDraft(action: action, host: r.host, port: r.port, transport: r.transport), owner: .sandbox(id),
                         position: i, field: "rules[\(i)]")
        }
        s.ownMode = mode
        _ = try await saveSandbox(s, rules: newRules)
        return compatView(try applied(id, notFound: .computerNotFound))
    }

    /// `DELETE`: back to the tenant's default mode, local rules removed.
    public func resetComputerPolicy(_ caller: Caller, id: String) async throws -> CompatPolicyView {
        var s = try sandbox(caller, id, notFound: .computerNotFound)
        s.ownMode = nil
        _ = try await saveSandbox(s, rules: [])
        return compatView(try applied(id, notFound: .computerNotFound))
    }
}
