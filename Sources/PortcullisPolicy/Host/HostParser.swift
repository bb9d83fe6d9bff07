/// The one canonicaliser for hosts: rule patterns, targets, SNI values, Host headers and
/// DNS question names all go through it, so a host is never matched in one spelling and
/// dialled in another.
public enum HostParser {
    /// Parses a rule's `host` field: an exact name, `*.name`, an IP literal or a CIDR.
    public static func parsePattern(_ input: String) throws(HostError) -> HostPattern {
        fatalError("HostParser.parsePattern is not written yet")
    }

    /// Parses what a client asked for: a name or an IP literal (no wildcard, no CIDR).
    /// IPv6 may come bracketed. Every IPv4 spelling resolvers accept is an address.
    public static func parseTarget(_ input: String) throws(HostError) -> TargetHost {
        fatalError("HostParser.parseTarget is not written yet")
    }

    /// Parses an IP literal only (IPv4 in every resolver spelling, IPv6 with or without
    /// brackets, IPv4-mapped IPv6 folded to IPv4). Returns nil for anything else.
    public static func parseAddress(_ input: String) -> IPAddress? {
        fatalError("HostParser.parseAddress is not written yet")
    }

    /// Parses `ADDRESS/PREFIX` (or a bare address, as a full-length prefix).
    public static func parseNetwork(_ input: String) throws(HostError) -> IPNetwork {
        fatalError("HostParser.parseNetwork is not written yet")
    }
}
