/// The gateway's host: the machine the gateway runs on, as a sandbox names it. `localhost`
/// (what sbx users write in a rule, and what a proxy client sends to mean that machine) and
/// `host.portcullis.internal` (what a `portcullis run` sandbox resolves, since its own
/// `localhost` is the sandbox itself) are one host: a rule naming either covers both.
///
/// It is reached on its IPv4 loopback, `127.0.0.1`, one port at a time: the address guard
/// lets a connection to the gateway's host through to `127.0.0.1` only when an exact allow
/// rule naming the gateway's host with that port decided it (`CompiledPolicy.check`). An
/// allow rule naming it without a port is refused when written (`RuleDraft.validate`) and
/// opens nothing if one exists; every other loopback port and address stays guarded, and the
/// gateway's own listeners are refused whatever the rules (`GatewayListeners`).
public enum GatewayHost {
    /// `localhost`.
    public static let localhost = DomainName(canonical: "localhost")
    /// `host.portcullis.internal`: the name the DNS gateway answers for a sandbox with the
    /// address of this host facing it (for a `portcullis run` sandbox, the host end of its link).
    public static let internalName = DomainName(canonical: "host.portcullis.internal")
    /// Every name of the gateway's host.
    public static let names: [DomainName] = [localhost, internalName]
    /// Where the gateway's host is dialled: its IPv4 loopback.
    public static let loopback = IPAddress.v4(IPv4Address(127, 0, 0, 1))

    /// Whether `name` is one of the gateway's host's names.
    @inlinable
    public static func contains(_ name: DomainName) -> Bool {
        name == localhost || name == internalName
    }

    /// Whether `host` names the gateway's host.
    @inlinable
    public static func contains(_ host: TargetHost) -> Bool {
        if case .name(let name) = host { return contains(name) }
        return false
    }

    /// Whether `rule` opens a port of the gateway's host: an allow rule naming it exactly,
    /// with a port.
    public static func opensPort(_ rule: Rule) -> Bool {
        guard rule.action == .allow, rule.port != nil, case .exact(let name) = rule.host else { return false }
        return contains(name)
    }

    /// Whether the address guard lets `decision` (on `target`) through to `address`: the
    /// target names the gateway's host, the address is its loopback, and the deciding rule
    /// opens that port.
    public static func opens(_ decision: Decision, to address: IPAddress, for target: Target) -> Bool {
        guard address == loopback, contains(target.host), case .allowRule(let rule) = decision.basis else { return false }
        return opensPort(rule)
    }
}
