/// Why the gateway must see inside a TLS connection (INSPECTION.md, "Which connections are
/// opened").
public enum InspectionNeed: Hashable, Sendable {
    /// An allow rule deciding the host restricts methods or paths (and does not say
    /// `inspect: false`): only a terminated connection shows them.
    case endpointRule(Rule)
    /// An allow rule deciding the host says `inspect: true`.
    case inspectRule(Rule)
    /// A credential attached to the sandbox is bound to the host (named).
    case credential(String)

    /// Whether a TLS connection to `target` is to be terminated, and why: the rules say so,
    /// or one of `credentials` is bound to its host and port (whatever the mode).
    public static func of(_ target: Target, policy: CompiledPolicy, credentials: [CredentialBinding]) -> InspectionNeed? {
        if let need = policy.inspectionNeed(target) { return need }
        if let binding = credentials.first(where: { $0.coversHost(target.host, port: target.port) }) {
            return .credential(binding.name)
        }
        return nil
    }
}

extension InspectionNeed: CustomStringConvertible {
    /// Why, in words an operator reads in a refusal or in `explain`.
    public var description: String {
        switch self {
        case .endpointRule(let r): return "rule \(r.id) allows only some methods or paths"
        case .inspectRule(let r): return "rule \(r.id) says inspect: true"
        case .credential(let name): return "credential \(name) is bound to it"
        }
    }
}

extension CompiledPolicy {
    /// Whether a TLS connection to `target` (a name and port, whatever its request) is to be
    /// terminated: the allow rules of the tier that decides the host — the same most
    /// specific tier the name stage uses — say so. nil: an SNI-checked opaque tunnel.
    ///
    /// In `unrestricted` and `isolated` modes no rule is applied, so nothing is; in
    /// `denylist` mode methods and paths are not enforced, so only `inspect: true` is.
    /// (Bound credentials, which terminate in every mode, are the caller's to add.)
    public func inspectionNeed(_ target: Target) -> InspectionNeed? {
        switch mode {
        case .unrestricted, .isolated: return nil
        case .allowlist, .audit, .denylist: break
        }
        guard case .name = target.host else { return nil }  // an IP target is decided on the IP, never terminated
        var need: InspectionNeed?
        var decided = false
        forEachLevel(of: target.host) { lists in
            // The level's deciding tier: rules with a port first, then without (as `bestAllow`).
            for pass in 0..<2 where !decided {
                let withPort = pass == 0
                for l in layers.indices {
                    guard let list = lists(l)?.allow else { continue }
                    for i in list {
                        let r = layers[l].rules[Int(i)]
                        if (r.port != nil) != withPort {
                            if withPort { break } else { continue }
                        }
                        guard r.coversPortAndProtocol(port: target.port, transport: target.transport) else { continue }
                        decided = true
                        if r.inspect == true, need.map({ if case .inspectRule = $0 { return false } else { return true } }) ?? true {
                            need = .inspectRule(r)
                        } else if r.inspect == nil, r.restrictsEndpoint, mode != .denylist, need == nil {
                            need = .endpointRule(r)
                        }
                    }
                }
            }
            return !decided
        }
        return need
    }
}
