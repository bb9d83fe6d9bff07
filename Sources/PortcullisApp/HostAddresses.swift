#if canImport(Glibc)
import Glibc
#endif
import PortcullisPolicy

/// The gateway's own addresses, which no sandbox may claim as a source address (unless the
/// operator lists them with `--claimable`): the addresses its listeners are bound to, and
/// every address of this host's interfaces (in serve's network namespace), read anew at
/// each call so interfaces added later count too.
enum HostAddresses {
    static func own(listeners: [HostAndPort]) -> Set<IPAddress> {
        var out = interfaceAddresses()
        for l in listeners {
            if let a = HostParser.parseAddress(l.host) { out.insert(a) }
        }
        return out
    }

    /// Every IPv4 and IPv6 address `getifaddrs` reports; empty if it fails.
    static func interfaceAddresses() -> Set<IPAddress> {
        var out: Set<IPAddress> = []
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return out }
        defer { freeifaddrs(head) }
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let e = entry {
            defer { entry = e.pointee.ifa_next }
            guard let sa = e.pointee.ifa_addr else { continue }
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                let v4 = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in.self)
                out.insert(.v4(IPv4Address(UInt32(bigEndian: v4.sin_addr.s_addr))))
            case AF_INET6:
                let v6 = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in6.self)
                var value: UInt128 = 0
                withUnsafeBytes(of: v6.sin6_addr) { bytes in
                    for b in bytes { value = value << 8 | UInt128(b) }
                }
                out.insert(IPAddress.canonical(IPv6Address(value)))
            default:
                continue
            }
        }
        return out
    }
}
