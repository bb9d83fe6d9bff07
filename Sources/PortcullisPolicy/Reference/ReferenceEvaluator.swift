/// A deliberately naive evaluator written straight from POLICY-MODEL.md: a linear scan of
/// every rule for every decision. It is the executable specification that property tests
/// compare `CompiledPolicy` with, and the baseline the benchmark measures against. Never
/// use it to serve traffic.
public struct ReferenceEvaluator: Sendable {
    public let mode: Mode
    public let rules: [Rule]
    public let version: UInt64
    public let addressGuard: AddressGuard

    public init(mode: Mode, rules: [Rule], version: UInt64, addressGuard: AddressGuard = AddressGuard()) {
        self.mode = mode
        self.rules = rules
        self.version = version
        self.addressGuard = addressGuard
    }

    /// Name stage, then (for an IP literal) the address stage on the literal.
    public func decide(_ target: Target) -> Decision {
        let d = nameStage(target)
        // The gateway's host is one address, its loopback: decided there as an IP literal is
        // (a DNS question only gets the guard's rejection when no rule matched).
        let a: IPAddress
        switch target.host {
        case .address(let literal): a = literal
        case .name(let n):
            guard GatewayHost.contains(n) else { return d }
            a = GatewayHost.loopback
        }
        // An IP literal that no rule covers and the guard blocks is the guard's rejection.
        if d.verdict == .reject, d.basis == .noRuleMatched {
            let asAllowed = Decision(verdict: .allow, stage: .name, basis: .noRuleMatched, host: target.host, mode: mode, policyVersion: version)
            let guarded = addressStage(asAllowed, a, target)
            if case .guarded = guarded.basis { return guarded }
        }
        if case .name = target.host, target.port == nil { return d }
        return addressStage(d, a, target)
    }

    public func evaluate(_ target: Target, resolved: [IPAddress]) -> (decision: Decision, permitted: [IPAddress]) {
        let d = decide(target)
        guard d.verdict != .reject, case .name = target.host, !resolved.isEmpty else { return (d, []) }
        let checked = resolved.map { ($0, addressStage(d, $0, target)) }
        let permitted = checked.filter { $0.1.verdict != .reject }
        return (permitted.first?.1 ?? checked[0].1, permitted.map(\.0))
    }

    /// A rule covers a connection when its host pattern covers the target as written
    /// (names meet exact/wildcard rules, IP literals meet IP/CIDR rules) and its port and
    /// protocol match when it sets them; a deny rule's `except` entries take hosts out.
    func covers(_ r: Rule, _ host: TargetHost, _ target: Target) -> Bool {
        guard r.host.covers(host) else { return false }
        switch r.action {
        case .allow:
            if let p = r.port, let tp = target.port, p != tp { return false }
            if r.transport != .any, let tt = target.transport, tt != r.transport { return false }
            return true
        case .deny:
            if let p = r.port, p != target.port { return false }
            if r.transport != .any, r.transport != target.transport { return false }
            return !r.except.contains { $0.covers(host) }
        }
    }

    func nameStage(_ target: Target) -> Decision {
        func make(_ v: Verdict, _ b: Decision.Basis, _ would: Bool = false, _ stage: DecisionStage = .name) -> Decision {
            Decision(verdict: v, wouldReject: would, stage: stage, basis: b, host: target.host, mode: mode, policyVersion: version)
        }
        // Isolated rejects everything; unrestricted applies no rule.
        if mode == .isolated { return make(.reject, .isolated) }
        if mode == .unrestricted { return make(.allow, .unrestricted) }

        let matching = rules.indices.filter { covers(rules[$0], target.host, target) }
        // 1. Any matching deny rule rejects (the most specific one is named).
        let denies = matching.filter { rules[$0].action == .deny }
        if let best = denies.max(by: { less(rules[$0], $0, rules[$1], $1) }) {
            return mode == .audit ? make(.allow, .denyRule(rules[best]), true) : make(.reject, .denyRule(rules[best]))
        }
        // 2. Otherwise the most specific matching allow rule decides, with its endpoint limits.
        let allows = matching.filter { rules[$0].action == .allow }
        if let top = allows.map({ RuleRank(rules[$0]) }).max() {
            let tier = allows.filter { RuleRank(rules[$0]) == top }
            let fitting = tier.filter { rules[$0].coversEndpoint(target.request) }
            if let chosen = fitting.first(where: { !rules[$0].warnOnly }) ?? fitting.first {
                let r = rules[chosen]
                return make(r.warnOnly ? .warn : .allow, .allowRule(r))
            }
            let r = rules[tier[0]]
            let basis: Decision.Basis
            if case .opaque = target.request { basis = .endpointOpaque(r) } else { basis = .endpointNotAllowed(r) }
            switch mode {
            case .allowlist: return make(.reject, basis, false, .endpoint)
            case .audit: return make(.allow, basis, true, .endpoint)
            case .denylist, .unrestricted, .isolated: return make(.allow, .noRuleMatched)
            }
        }
        // 3. Otherwise the mode's "no rule matches" column.
        switch mode {
        case .allowlist: return make(.reject, .noRuleMatched)
        case .audit: return make(.allow, .noRuleMatched, true)
        case .denylist, .unrestricted, .isolated: return make(.allow, .noRuleMatched)
        }
    }

    /// Which of two matching rules is less specific; on equal rank the later one in policy
    /// order is "less", so the first one listed wins.
    func less(_ a: Rule, _ ia: Int, _ b: Rule, _ ib: Int) -> Bool {
        let ra = RuleRank(a), rb = RuleRank(b)
        if ra != rb { return ra < rb }
        return ia > ib
    }

    func addressStage(_ d: Decision, _ address: IPAddress, _ target: Target) -> Decision {
        guard d.verdict != .reject else { return d }
        func make(_ v: Verdict, _ b: Decision.Basis, _ would: Bool = false) -> Decision {
            Decision(verdict: v, wouldReject: would, stage: .address, basis: b, host: target.host, mode: mode, policyVersion: version)
        }
        let asHost = TargetHost.address(address)
        // The guard, in every mode, unless an allow IP/CIDR rule covers the address, or an
        // exact allow rule with a port for the gateway's host decided it and this is its loopback.
        var opened = rules.contains { $0.action == .allow && !$0.host.isName && covers($0, asHost, target) }
        if address == GatewayHost.loopback, GatewayHost.contains(target.host), case .allowRule(let r) = d.basis,
           r.action == .allow, r.port != nil, case .exact(let name) = r.host, GatewayHost.contains(name) {
            opened = true
        }
        if !opened {
            for range in addressGuard.ranges where range.network.contains(address) {
                if !range.alwaysGuarded && addressGuard.exemptions.contains(where: { $0.contains(address) }) { continue }
                return make(.reject, .guarded(range, address))
            }
        }
        guard case .name = target.host else { return d }
        // Deny IP/CIDR rules reject resolved addresses unless an explicit name rule allowed the name.
        if case .allowRule(let r) = d.basis, r.host.isName { return d }
        let denies = rules.indices.filter { rules[$0].action == .deny && !rules[$0].host.isName && covers(rules[$0], asHost, target) }
        guard let best = denies.max(by: { less(rules[$0], $0, rules[$1], $1) }) else { return d }
        switch mode {
        case .allowlist, .denylist: return make(.reject, .denyAddressRule(rules[best], address))
        case .audit: return d.wouldReject ? d : make(.allow, .denyAddressRule(rules[best], address), true)
        case .unrestricted, .isolated: return d
        }
    }
}
