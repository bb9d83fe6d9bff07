/// One sandbox's effective policy, compiled once per policy change into hash-indexed
/// matchers, then asked millions of times. Immutable: a change compiles a new one and the
/// data plane swaps it in whole.
///
/// Deciding a connection (POLICY-MODEL.md, "Deciding one connection"):
/// 1. the name stage (`decide(_:)`) compares rules with the target as written;
/// 2. the address stage (`check(_:dialling:for:)`) runs the guard and deny IP/CIDR rules
///    on the address actually dialled;
/// 3. the endpoint stage is part of 1: an allow rule's methods/paths apply to what is visible.
/// Consistency checks (`reject(_:for:)`) reject whatever the rules say.
///
/// A policy is a chain of compiled `RuleLayer`s in tie-break order (the sandbox's own
/// rules, its profiles, the tenant's rules); layers are shared between the sandboxes that
/// have them, and a lookup walks the levels of the target once across every layer, so the
/// outcome is the same as compiling all the rules into one list.
public struct CompiledPolicy: Sendable {
    public let version: UInt64
    public let mode: Mode
    public let addressGuard: AddressGuard
    let layers: [RuleLayer]
    /// Prefix lengths present in any layer, longest first.
    let v4Lengths: [Int]
    let v6Lengths: [Int]

    /// The effective rules in tie-break order.
    public var rules: [Rule] { layers.count == 1 ? layers[0].rules : layers.flatMap(\.rules) }

    public init(mode: Mode, rules: [Rule], version: UInt64, addressGuard: AddressGuard = AddressGuard()) {
        self.init(mode: mode, layers: [RuleLayer(rules: rules)], version: version, addressGuard: addressGuard)
    }

    /// A policy over already compiled layers, in tie-break order (nothing is recompiled).
    public init(mode: Mode, layers: [RuleLayer], version: UInt64, addressGuard: AddressGuard = AddressGuard()) {
        var chain = layers.contains(where: { $0.rules.isEmpty }) ? layers.filter { !$0.rules.isEmpty } : layers
        if chain.count > RuleLayer.maximumLayers || chain.contains(where: { $0.rules.count >= RuleLayer.maximumRules }) {
            chain = [RuleLayer(rules: chain.flatMap(\.rules))]
        }
        self.version = version
        self.mode = mode
        self.addressGuard = addressGuard
        self.layers = chain
        self.v4Lengths = CompiledPolicy.lengths(chain.map(\.v4))
        self.v6Lengths = CompiledPolicy.lengths(chain.map(\.v6))
    }

    /// Compiles a sandbox's layers (profiles, tenant-wide rules, local rules, mode override).
    public init(layers: PolicyLayers, version: UInt64, addressGuard: AddressGuard = AddressGuard()) {
        self.init(mode: layers.effectiveMode, rules: layers.effectiveRules, version: version, addressGuard: addressGuard)
    }

    // MARK: - Name stage

    /// The rule-level outcome of the name stage, before the mode applies (rule references
    /// as `RuleRef` packs them).
    enum NameMatch: Equatable {
        case denied(Int32)
        case allowed(Int32)
        case endpointMismatch(Int32)
        case none
    }

    func matchName(_ target: Target) -> NameMatch {
        var deny: Int32?
        var allow: NameMatch = .none
        // One level at a time, most specific first: remember the first deny (deny always
        // wins, the most specific one is named) and the first level with a deciding allow.
        forEachLevel(of: target.host) { lists in
            if deny == nil { deny = firstDeny(lists, host: target.host, port: target.port, transport: target.transport) }
            if allow == .none { allow = bestAllow(lists, target) }
            return true
        }
        if let deny { return .denied(deny) }
        return allow
    }

    /// Decides the name stage (and, for an IP-literal target, the address stage on that
    /// address, since it is what would be dialled; likewise for the gateway's host, whose
    /// one address is 127.0.0.1, when a port is asked for).
    ///
    /// An IP literal that no rule covers and the guard blocks is reported as the guard's
    /// rejection, not as default-deny: it must not join the pending queue, where one click
    /// would add an allow rule that opens the guard. The same holds for the gateway's host
    /// (`GatewayHost`), DNS questions for it included.
    public func decide(_ target: Target) -> Decision {
        let decision = applyMode(matchName(target), target)
        let address: IPAddress
        switch target.host {
        case .address(let a):
            address = a
        case .name(let name):
            guard GatewayHost.contains(name) else { return decision }
            address = GatewayHost.loopback
        }
        if decision.verdict == .reject, decision.basis == .noRuleMatched, let range = addressGuard.range(guarding: address),
           !allowRuleCovers(address, target) {
            return Decision(verdict: .reject, stage: .address, basis: .guarded(range, address), host: target.host,
                            mode: mode, policyVersion: version)
        }
        if case .name = target.host, target.port == nil { return decision }  // a DNS question: no connection yet
        return check(decision, dialling: address, for: target)
    }

    func guarded(_ range: GuardRange, _ address: IPAddress, _ target: Target) -> Decision {
        Decision(verdict: .reject, stage: .address, basis: .guarded(range, address), host: target.host,
                 mode: mode, policyVersion: version)
    }

    func applyMode(_ match: NameMatch, _ target: Target) -> Decision {
        func make(_ verdict: Verdict, _ basis: Decision.Basis, wouldReject: Bool = false, stage: DecisionStage = .name) -> Decision {
            Decision(verdict: verdict, wouldReject: wouldReject, stage: stage, basis: basis,
                     host: target.host, mode: mode, policyVersion: version)
        }
        func allowed(_ i: Int32) -> Decision {
            let r = rule(i)
            return make(r.warnOnly ? .warn : .allow, .allowRule(r))
        }
        func endpointBasis(_ i: Int32) -> Decision.Basis {
            let r = rule(i)
            if case .opaque = target.request { return .endpointOpaque(r) }
            return .endpointNotAllowed(r)
        }
        switch mode {
        case .isolated:
            return make(.reject, .isolated)
        case .unrestricted:
            return make(.allow, .unrestricted)
        case .audit:
            switch match {
            case .denied(let i): return make(.allow, .denyRule(rule(i)), wouldReject: true)
            case .allowed(let i): return allowed(i)
            case .endpointMismatch(let i): return make(.allow, endpointBasis(i), wouldReject: true, stage: .endpoint)
            case .none: return make(.allow, .noRuleMatched, wouldReject: true)
            }
        case .allowlist:
            switch match {
            case .denied(let i): return make(.reject, .denyRule(rule(i)))
            case .allowed(let i): return allowed(i)
            case .endpointMismatch(let i): return make(.reject, endpointBasis(i), stage: .endpoint)
            case .none: return make(.reject, .noRuleMatched)
            }
        case .denylist:
            switch match {
            case .denied(let i): return make(.reject, .denyRule(rule(i)))
            case .allowed(let i): return allowed(i)
            case .endpointMismatch, .none: return make(.allow, .noRuleMatched)
            }
        }
    }
}
