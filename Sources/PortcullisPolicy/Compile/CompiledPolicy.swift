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
public struct CompiledPolicy: Sendable {
    public let version: UInt64
    public let mode: Mode
    /// The effective rules in tie-break order; indices into this array identify rules.
    public let rules: [Rule]
    public let addressGuard: AddressGuard
    let names: NameIndex
    let v4: PrefixIndex<UInt32>
    let v6: PrefixIndex<UInt128>

    public init(mode: Mode, rules: [Rule], version: UInt64, addressGuard: AddressGuard = AddressGuard()) {
        self.version = version
        self.mode = mode
        self.rules = rules
        self.addressGuard = addressGuard
        self.names = NameIndex(rules: rules)
        var v4Items: [(key: UInt32, length: Int, index: Int32, isAllow: Bool, hasPort: Bool)] = []
        var v6Items: [(key: UInt128, length: Int, index: Int32, isAllow: Bool, hasPort: Bool)] = []
        for (index, rule) in rules.enumerated() {
            let network: IPNetwork
            switch rule.host {
            case .address(let a): network = IPNetwork(masking: a, prefixLength: a.bitWidth)
            case .network(let n): network = n
            case .exact, .wildcard: continue
            }
            let isAllow = rule.action == .allow, hasPort = rule.port != nil
            switch network.address {
            case .v4(let a): v4Items.append((a.value, Int(network.prefixLength), Int32(index), isAllow, hasPort))
            case .v6(let a): v6Items.append((a.value, Int(network.prefixLength), Int32(index), isAllow, hasPort))
            }
        }
        self.v4 = PrefixIndex(v4Items)
        self.v6 = PrefixIndex(v6Items)
    }

    /// Compiles a sandbox's layers (profiles, tenant-wide rules, local rules, mode override).
    public init(layers: PolicyLayers, version: UInt64, addressGuard: AddressGuard = AddressGuard()) {
        self.init(mode: layers.effectiveMode, rules: layers.effectiveRules, version: version, addressGuard: addressGuard)
    }

    // MARK: - Name stage

    /// The rule-level outcome of the name stage, before the mode applies.
    enum NameMatch: Equatable {
        case denied(Int32)
        case allowed(Int32)
        case endpointMismatch(Int32)
        case none
    }

    func matchName(_ target: Target) -> NameMatch {
        var deny: Int32?
        var allow: NameMatch = .none
        // One level of the index, most specific first: remember the first deny (deny always
        // wins, the most specific one is named) and the first level with a deciding allow.
        func visit(_ denyList: [Int32], _ allowList: [Int32]) -> Bool {
            if deny == nil { deny = firstDeny(denyList, target) }
            if allow == .none { allow = bestAllow(allowList, target) }
            return true
        }
        switch target.host {
        case .name(let name):
            names.forEachLevel(of: name) { entry, isWholeName in
                isWholeName ? visit(entry.exactDeny, entry.exactAllow) : visit(entry.wildcardDeny, entry.wildcardAllow)
            }
        case .address(.v4(let a)):
            v4.forEachCovering(a.value) { visit($0.deny, $0.allow) }
        case .address(.v6(let a)):
            v6.forEachCovering(a.value) { visit($0.deny, $0.allow) }
        }
        if let deny { return .denied(deny) }
        return allow
    }

    /// The first deny rule of one level that covers the target (lists are best first).
    @inline(__always)
    func firstDeny(_ list: [Int32], _ target: Target) -> Int32? {
        for i in list {
            let r = rules[Int(i)]
            if r.coversPortAndProtocol(port: target.port, transport: target.transport), !r.excepts(target.host) {
                return i
            }
        }
        return nil
    }

    /// The deciding allow rule of one level: the rules of its most specific tier (with a
    /// port, else without) that cover the target; of those, the first whose methods/paths
    /// cover the request, preferring one that is not warn-only; if none does, the tier's
    /// first rule decides as an endpoint mismatch.
    @inline(__always)
    func bestAllow(_ list: [Int32], _ target: Target) -> NameMatch {
        var tierHasPort: Bool?
        var firstInTier: Int32?
        var warnCandidate: Int32?
        for i in list {
            let r = rules[Int(i)]
            guard r.coversPortAndProtocol(port: target.port, transport: target.transport) else { continue }
            let hasPort = r.port != nil
            if let t = tierHasPort, t != hasPort { break }
            tierHasPort = hasPort
            if firstInTier == nil { firstInTier = i }
            if r.coversEndpoint(target.request) {
                if !r.warnOnly { return .allowed(i) }
                if warnCandidate == nil { warnCandidate = i }
            }
        }
        if let w = warnCandidate { return .allowed(w) }
        if let f = firstInTier { return .endpointMismatch(f) }
        return .none
    }

    /// Decides the name stage (and, for an IP-literal target, the address stage on that
    /// address, since it is what would be dialled).
    ///
    /// An IP literal that no rule covers and the guard blocks is reported as the guard's
    /// rejection, not as default-deny: it must not join the pending queue, where one click
    /// would add an allow rule that opens the guard.
    public func decide(_ target: Target) -> Decision {
        let decision = applyMode(matchName(target), target)
        guard case .address(let a) = target.host else { return decision }
        if decision.verdict == .reject, decision.basis == .noRuleMatched, let range = addressGuard.range(guarding: a) {
            return Decision(verdict: .reject, stage: .address, basis: .guarded(range, a), host: target.host,
                            mode: mode, policyVersion: version)
        }
        return check(decision, dialling: a, for: target)
    }

    func applyMode(_ match: NameMatch, _ target: Target) -> Decision {
        func make(_ verdict: Verdict, _ basis: Decision.Basis, wouldReject: Bool = false, stage: DecisionStage = .name) -> Decision {
            Decision(verdict: verdict, wouldReject: wouldReject, stage: stage, basis: basis,
                     host: target.host, mode: mode, policyVersion: version)
        }
        func allowed(_ i: Int32) -> Decision {
            let r = rules[Int(i)]
            return make(r.warnOnly ? .warn : .allow, .allowRule(r))
        }
        func endpointBasis(_ i: Int32) -> Decision.Basis {
            let r = rules[Int(i)]
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
            case .denied(let i): return make(.allow, .denyRule(rules[Int(i)]), wouldReject: true)
            case .allowed(let i): return allowed(i)
            case .endpointMismatch(let i): return make(.allow, endpointBasis(i), wouldReject: true, stage: .endpoint)
            case .none: return make(.allow, .noRuleMatched, wouldReject: true)
            }
        case .allowlist:
            switch match {
            case .denied(let i): return make(.reject, .denyRule(rules[Int(i)]))
            case .allowed(let i): return allowed(i)
            case .endpointMismatch(let i): return make(.reject, endpointBasis(i), stage: .endpoint)
            case .none: return make(.reject, .noRuleMatched)
            }
        case .denylist:
            switch match {
            case .denied(let i): return make(.reject, .denyRule(rules[Int(i)]))
            case .allowed(let i): return allowed(i)
            case .endpointMismatch, .none: return make(.allow, .noRuleMatched)
            }
        }
    }
}
