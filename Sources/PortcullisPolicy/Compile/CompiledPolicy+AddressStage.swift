extension CompiledPolicy {
    /// The address stage, on the address about to be dialled for `target`, after the name
    /// stage gave `decision`:
    /// - the address guard rejects guarded addresses in every mode, unless an allow IP/CIDR
    ///   rule covers the address, or the target is the gateway's host, the address its
    ///   loopback and the deciding rule names the gateway's host with this port (`GatewayHost`);
    /// - deny IP/CIDR rules reject the address, unless the name itself was allowed by an
    ///   explicit exact or wildcard allow rule.
    public func check(_ decision: Decision, dialling address: IPAddress, for target: Target) -> Decision {
        guard decision.verdict != .reject else { return decision }
        func make(_ verdict: Verdict, _ basis: Decision.Basis, wouldReject: Bool = false) -> Decision {
            Decision(verdict: verdict, wouldReject: wouldReject, stage: .address, basis: basis,
                     host: target.host, mode: mode, policyVersion: version)
        }
        if let range = addressGuard.range(guarding: address), !allowRuleCovers(address, target),
           !GatewayHost.opens(decision, to: address, for: target) {
            return make(.reject, .guarded(range, address))
        }
        guard case .name = target.host else { return decision }
        if case .allowRule(let r) = decision.basis, r.host.isName { return decision }
        guard let i = denyRuleCovering(address, target) else { return decision }
        let rule = self.rule(i)
        switch mode {
        case .allowlist, .denylist:
            return make(.reject, .denyAddressRule(rule, address))
        case .audit:
            return decision.wouldReject ? decision : make(.allow, .denyAddressRule(rule, address), wouldReject: true)
        case .unrestricted, .isolated:
            return decision
        }
    }

    /// The name stage followed by the address stage for each resolved address, in order,
    /// as the dialler would try them.
    public func evaluate(_ target: Target, resolved: [IPAddress]) -> AddressSelection {
        let nameDecision = decide(target)
        guard nameDecision.verdict != .reject, case .name = target.host, !resolved.isEmpty else {
            return AddressSelection(decision: nameDecision, permitted: [], rejected: [])
        }
        // Usually every address passes: then the lists are `resolved` itself and an empty
        // one, and nothing is allocated; lists are built only when some address is refused.
        var allPass: Decision?
        for address in resolved {
            let d = check(nameDecision, dialling: address, for: target)
            if d.verdict == .reject { allPass = nil; break }
            if allPass == nil { allPass = d }
        }
        if let allPass { return AddressSelection(decision: allPass, permitted: resolved, rejected: []) }
        var permitted: [IPAddress] = []
        var rejected: [(IPAddress, Decision)] = []
        var first: Decision?
        for address in resolved {
            let d = check(nameDecision, dialling: address, for: target)
            if d.verdict == .reject {
                rejected.append((address, d))
            } else {
                permitted.append(address)
                if first == nil { first = d }
            }
        }
        return AddressSelection(decision: first ?? rejected[0].1, permitted: permitted, rejected: rejected)
    }

    /// A consistency failure: rejected in every mode, whatever the rules say.
    public func reject(_ inconsistency: Inconsistency, for target: Target) -> Decision {
        Decision(verdict: .reject, stage: .consistency, basis: .inconsistent(inconsistency),
                 host: target.host, mode: mode, policyVersion: version)
    }

    func allowRuleCovers(_ address: IPAddress, _ target: Target) -> Bool {
        // Closures passed straight down (never stored in a variable) stay non-escaping: no
        // context or captured box is allocated per call.
        var found = false
        for layer in layers {
            switch address {
            case .v4(let a):
                layer.v4.forEachCovering(a.value) { e in
                    found = e.allow.contains { layer.rules[Int($0)].coversPortAndProtocol(port: target.port, transport: target.transport) }
                    return !found
                }
            case .v6(let a):
                layer.v6.forEachCovering(a.value) { e in
                    found = e.allow.contains { layer.rules[Int($0)].coversPortAndProtocol(port: target.port, transport: target.transport) }
                    return !found
                }
            }
            if found { return true }
        }
        return false
    }

    /// The deny IP/CIDR rule that names the rejection of `address`: the longest prefix
    /// first, then the merged order of that level (with a port first, layer by layer).
    func denyRuleCovering(_ address: IPAddress, _ target: Target) -> Int32? {
        let host = TargetHost.address(address)
        var found: Int32?
        forEachLevel(of: host) { lists in
            found = firstDeny({ l in lists(l).map { LevelLists(deny: $0.deny, allow: []) } }, host: host,
                              port: target.port, transport: target.transport)
            return found == nil
        }
        return found
    }
}

/// The outcome of deciding a name target over its resolved addresses.
public struct AddressSelection: Sendable {
    /// The decision for the first permitted address, or the rejection of the first address
    /// when none is permitted (or the name-stage decision when there was nothing to check).
    public let decision: Decision
    /// The addresses that may be dialled, in order.
    public let permitted: [IPAddress]
    /// The addresses refused, each with its rejection.
    public let rejected: [(IPAddress, Decision)]
}
