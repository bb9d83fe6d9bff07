/// One side effect on the host, as data: the plan is computed by pure code (and tested as
/// text), `HostExecutor` performs it.
public enum HostStep: Hashable, Sendable, CustomStringConvertible {
    /// Runs a system tool with arguments, feeding `input` on its standard input.
    case run(SystemTool, [String], input: String?)
    /// Writes one value into a file under /proc/sys of the host's namespace.
    case sysctl(path: String, value: String)
    /// Creates a directory (and its parents) and writes a file in it.
    case writeFile(directory: String, name: String, contents: String)
    /// Writes a file that only root and one group may read, in a directory only they may
    /// enter; neither may be changed by that group (the sandbox's CA bundle).
    case writeGroupFile(directory: String, name: String, contents: String, group: UInt32)
    /// Removes a directory and what it holds (missing is fine).
    case removeDirectory(String)
    /// SIGKILLs every process still inside the namespace (`ip netns pids`).
    case killNamespaceProcesses(String)

    public var description: String {
        switch self {
        case .run(let tool, let arguments, let input):
            ([tool.rawValue] + arguments).joined(separator: " ") + (input == nil ? "" : " < script")
        case .sysctl(let path, let value): "echo \(value) > \(path)"
        case .writeFile(let directory, let name, _): "write \(directory)/\(name)"
        case .writeGroupFile(let directory, let name, _, let group): "write \(directory)/\(name) (root:\(group) 0640)"
        case .removeDirectory(let path): "rm -r \(path)"
        case .killNamespaceProcesses(let namespace): "kill -9 $(ip netns pids \(namespace))"
        }
    }
}

/// The system tools the runner uses, looked up in the system directories only (never
/// `$PATH`: the runner is root).
public enum SystemTool: String, Hashable, Sendable, CaseIterable {
    case ip, nft, setpriv

    public static let directories = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    /// The package that provides it, for the error message when it is missing.
    public var package: String {
        switch self {
        case .ip: "iproute2"
        case .nft: "nftables"
        case .setpriv: "util-linux"
        }
    }
}

/// The CA bundle a run gives its command: its text, and the group (the command's) that may read it.
public struct TrustBundle: Hashable, Sendable {
    public let text: String
    public let group: UInt32

    public init(text: String, group: UInt32) {
        self.text = text
        self.group = group
    }
}

/// What one run creates, in order, and how to remove it again.
public struct RunPlan: Hashable, Sendable {
    public let names: RunNames
    public let lease: Lease
    public let ruleset: Ruleset
    /// The sandbox's CA bundle, written to `names.trustBundlePath`; nil: none.
    public let trust: TrustBundle?

    public init(names: RunNames, lease: Lease, transparent: ListenerAddress, dns: ListenerAddress, trust: TrustBundle? = nil) {
        self.names = names
        self.lease = lease
        self.ruleset = Ruleset(names: names, lease: lease, transparent: transparent, dns: dns)
        self.trust = trust
    }

    /// The resolv.conf of the namespace: the host end of the veth, where port 53 is steered
    /// to the DNS gateway (any other resolver address is steered there too).
    public var resolvConf: String {
        "# written by portcullis run: every DNS query goes to the Portcullis DNS gateway\nnameserver \(lease.hostText)\noptions attempts:2 timeout:2\n"
    }

    /// The setup, in order. The host-side rules are in place before either end of the link
    /// is up, so no packet ever leaves the sandbox unfiltered.
    public var setup: [HostStep] {
        let ns = names.namespace, host = names.hostLink, sbx = names.sandboxLink
        let prefix = "/\(AddressPool.leasePrefix)"
        var steps: [HostStep] = [
            .run(.ip, ["netns", "add", ns], input: nil),
            .run(.ip, ["link", "add", host, "type", "veth", "peer", "name", sbx, "netns", ns], input: nil),
            .sysctl(path: "/proc/sys/net/ipv6/conf/\(host)/disable_ipv6", value: "1"),
        ]
        if ruleset.needsRouteLocalnet {
            steps.append(.sysctl(path: "/proc/sys/net/ipv4/conf/\(host)/route_localnet", value: "1"))
        }
        steps += [
            .run(.nft, ["-f", "-"], input: ruleset.text),
            .run(.ip, ["addr", "add", lease.hostText + prefix, "dev", host], input: nil),
            .run(.ip, ["link", "set", host, "up"], input: nil),
            .run(.ip, ["-n", ns, "link", "set", "lo", "up"], input: nil),
            .run(.ip, ["netns", "exec", ns, "sysctl", "-q", "-e", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                       "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.\(sbx).disable_ipv6=1"], input: nil),
            .run(.ip, ["-n", ns, "addr", "add", lease.sandboxText + prefix, "dev", sbx], input: nil),
            .run(.ip, ["-n", ns, "link", "set", sbx, "up"], input: nil),
            .run(.ip, ["-n", ns, "route", "add", "default", "via", lease.hostText, "dev", sbx], input: nil),
            .writeFile(directory: names.etcDirectory, name: "resolv.conf", contents: resolvConf),
        ]
        if let trust {
            steps.append(.writeGroupFile(directory: names.trustDirectory, name: "ca-bundle.pem", contents: trust.text, group: trust.group))
        }
        return steps
    }

    /// Everything the run made, removed; each step is tried even when an earlier one failed
    /// (and a missing item is not an error).
    public var teardown: [HostStep] { RunPlan.teardown(names) }

    /// The teardown for any names (also for stale leftovers found without a record).
    public static func teardown(_ names: RunNames) -> [HostStep] {
        [
            .killNamespaceProcesses(names.namespace),
            .run(.ip, ["link", "del", names.hostLink], input: nil),
            .run(.nft, ["delete", "table", "inet", names.table], input: nil),
            .run(.ip, ["netns", "del", names.namespace], input: nil),
            .removeDirectory(names.etcDirectory),
            .removeDirectory(names.trustDirectory),
        ]
    }
}
