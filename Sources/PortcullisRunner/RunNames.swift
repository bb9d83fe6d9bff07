/// The names of everything one run creates on the host, all derived from the sandbox id,
/// so that a later run (or an operator) can tell what belongs to which sandbox.
///
/// Links must fit IFNAMSIZ (15 characters): `pc-` + 10 id characters + `-h`/`-s`.
public struct RunNames: Hashable, Sendable, Codable {
    /// The prefix of every namespace and link; `pc_` for nftables tables.
    public static let prefix = "pc-"
    public static let tablePrefix = "pc_"
    public static let suffixLength = 10
    /// Linux IFNAMSIZ minus the terminating NUL.
    public static let maxLinkName = 15

    /// The last characters of the sandbox id.
    public let suffix: String

    /// The names for `sandboxID` (`sbx_` followed by lower-case letters and digits), or nil
    /// when the id has another shape.
    public init?(sandboxID: String) {
        guard sandboxID.hasPrefix("sbx_"), sandboxID.count <= 68 else { return nil }
        let body = sandboxID.dropFirst(4)
        guard !body.isEmpty, body.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) }) else { return nil }
        suffix = String(body.suffix(RunNames.suffixLength))
    }

    /// The names for a suffix found on the host (a stale namespace, link or table).
    public init?(suffix: String) {
        guard !suffix.isEmpty, suffix.count <= RunNames.suffixLength,
              suffix.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) }) else { return nil }
        self.suffix = suffix
    }

    /// `pc-<suffix>`: the network namespace, given to the command in `PORTCULLIS_NETNS`.
    public var namespace: String { RunNames.prefix + suffix }
    /// The host end of the veth pair (where the nftables rules match `iifname`).
    public var hostLink: String { namespace + "-h" }
    /// The sandbox end, inside the namespace.
    public var sandboxLink: String { namespace + "-s" }
    /// The nftables table (family `inet`) in the host's namespace.
    public var table: String { RunNames.tablePrefix + suffix }
    /// The directory `ip netns exec` bind-mounts files from (`resolv.conf`).
    public var etcDirectory: String { "/etc/netns/" + namespace }
    /// The directory of the sandbox's CA bundle (root-owned; readable by the command's group only).
    public var trustDirectory: String { "/run/portcullis-ca/" + namespace }
    /// The CA bundle the command's `SSL_CERT_FILE` and friends name.
    public var trustBundlePath: String { trustDirectory + "/ca-bundle.pem" }
    /// The run's state record.
    public func recordPath(in directory: String) -> String { directory + "/" + namespace + ".json" }

    /// The suffix of a runner-made namespace (`pc-x`), link (`pc-x-h`, `pc-x-s`) or table
    /// (`pc_x`); nil for any other name.
    public static func suffix(ofNamespace name: String) -> String? {
        guard name.hasPrefix(prefix) else { return nil }
        return RunNames(suffix: String(name.dropFirst(prefix.count)))?.suffix
    }

    public static func suffix(ofLink name: String) -> String? {
        guard name.hasPrefix(prefix), name.hasSuffix("-h") || name.hasSuffix("-s") else { return nil }
        return RunNames(suffix: String(name.dropFirst(prefix.count).dropLast(2)))?.suffix
    }

    public static func suffix(ofTable name: String) -> String? {
        guard name.hasPrefix(tablePrefix) else { return nil }
        return RunNames(suffix: String(name.dropFirst(tablePrefix.count)))?.suffix
    }
}
