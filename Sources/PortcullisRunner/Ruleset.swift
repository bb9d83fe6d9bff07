/// The nftables table one run installs in the host's namespace (applied atomically with
/// `nft -f -`). It matches only packets entering from the run's host link:
///
/// 1. `guard` (prerouting, raw priority, before conntrack): IPv6 and every other family
///    dropped; IPv4 whose source is not the sandbox's address dropped (no spoofing).
/// 2. `steer` (prerouting, dstnat): DNS (UDP and TCP port 53, to any address) to the DNS
///    gateway, every other TCP connection to the transparent listener.
/// 3. `deliver` (input): only what `steer` rewrote, to the two listeners' ports, and the
///    ICMP errors that belong to those connections, are accepted; everything else
///    (other UDP, ICMP, direct connections to host services) dropped.
/// 4. `isolate` (forward): nothing from or to the link is forwarded, whatever the host's
///    `ip_forward` says (the runner never changes it).
public struct Ruleset: Hashable, Sendable {
    public let names: RunNames
    public let lease: Lease
    public let transparent: ListenerAddress
    public let dns: ListenerAddress

    public init(names: RunNames, lease: Lease, transparent: ListenerAddress, dns: ListenerAddress) {
        self.names = names
        self.lease = lease
        self.transparent = transparent
        self.dns = dns
    }

    /// Whether the host link needs `route_localnet` (a listener on 127.0.0.0/8).
    public var needsRouteLocalnet: Bool { transparent.reach == .loopback || dns.reach == .loopback }

    /// The nat statement that sends a packet to `listener`.
    static func steer(to listener: ListenerAddress) -> String {
        switch listener.reach {
        case .wildcard: "redirect to :\(listener.port)"
        case .loopback, .address: "dnat ip to \(listener.host):\(listener.port)"
        }
    }

    /// The whole `nft -f` script: create-or-empty the table, then define it, in one transaction.
    public var text: String {
        let table = names.table
        let link = "\"\(names.hostLink)\""
        let source = lease.sandboxText
        return """
        # portcullis run: sandbox link \(names.hostLink), sandbox address \(source)
        table inet \(table) {}
        delete table inet \(table)
        table inet \(table) {
        \tchain guard {
        \t\ttype filter hook prerouting priority raw; policy accept;
        \t\tiifname \(link) meta nfproto != ipv4 drop
        \t\tiifname \(link) ip saddr != \(source) drop
        \t}
        \tchain steer {
        \t\ttype nat hook prerouting priority dstnat; policy accept;
        \t\tiifname \(link) udp dport 53 \(Ruleset.steer(to: dns))
        \t\tiifname \(link) tcp dport 53 \(Ruleset.steer(to: dns))
        \t\tiifname \(link) meta l4proto tcp \(Ruleset.steer(to: transparent))
        \t}
        \tchain deliver {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tiifname \(link) ct status dnat udp dport \(dns.port) accept
        \t\tiifname \(link) ct status dnat tcp dport \(dns.port) accept
        \t\tiifname \(link) ct status dnat tcp dport \(transparent.port) accept
        \t\tiifname \(link) ct state related icmp type { destination-unreachable, time-exceeded, parameter-problem } accept
        \t\tiifname \(link) drop
        \t}
        \tchain isolate {
        \t\ttype filter hook forward priority filter; policy accept;
        \t\tiifname \(link) drop
        \t\toifname \(link) drop
        \t}
        }

        """
    }
}
