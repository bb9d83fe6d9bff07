#if canImport(Glibc)
import Glibc
#endif
import PortcullisPolicy

/// A listener of `serve` that cannot bind: its flag, its address and the reason, as the one
/// line `serve` prints before it exits 1 (`--transparent 127.0.0.1:3129: address already in use`).
public struct ListenerBindError: Error, Equatable, CustomStringConvertible {
    /// The flag without its dashes (`transparent`).
    public let flag: String
    public let address: HostAndPort
    public let reason: String

    public init(flag: String, address: HostAndPort, reason: String) {
        self.flag = flag
        self.address = address
        self.reason = reason
    }

    public var description: String { "--\(flag) \(address): \(reason)" }
}

/// Before the store opens or any service starts, each listener's address is bound once and
/// released, so a listener that cannot bind stops `serve` with one line naming its flag
/// (a failure inside the running service group would instead be logged by every service it
/// cancels). Two of serve's own listeners on one TCP port are caught here too. A port taken
/// by someone else between this check and the real bind still stops `serve`, less precisely.
public enum ListenerPreflight {
    struct Listener {
        let flag: String
        let address: HostAndPort
        let udp: Bool
    }

    /// Every socket `serve` will bind for `config`, in start order.
    static func listeners(_ config: ServeConfiguration) -> [Listener] {
        var out = [Listener(flag: "api", address: config.api, udp: false), Listener(flag: "proxy", address: config.proxy, udp: false)]
        if let socks = config.socks { out.append(Listener(flag: "socks", address: socks, udp: false)) }
        if let dns = config.dns {
            out.append(Listener(flag: "dns", address: dns, udp: true))
            out.append(Listener(flag: "dns", address: dns, udp: false))
        }
        if let transparent = config.transparent { out.append(Listener(flag: "transparent", address: transparent, udp: false)) }
        return out
    }

    /// Throws for the first listener that cannot bind. Port 0 (any free port) always can.
    public static func check(_ config: ServeConfiguration) throws(ListenerBindError) {
        let all = listeners(config)
        for (index, listener) in all.enumerated() where listener.address.port != 0 {
            if !listener.udp, let other = all[..<index].first(where: { !$0.udp && $0.flag != listener.flag && overlaps($0.address, listener.address) }) {
                throw ListenerBindError(flag: listener.flag, address: listener.address,
                                        reason: "address already in use (by --\(other.flag) \(other.address))")
            }
            if let reason = probe(listener) {
                throw ListenerBindError(flag: listener.flag, address: listener.address, reason: reason)
            }
        }
    }

    /// Whether two TCP listen addresses on one port collide: the same address, or a wildcard
    /// of the same family (`[::]` covers IPv4 too on Linux's dual stack).
    static func overlaps(_ a: HostAndPort, _ b: HostAndPort) -> Bool {
        guard a.port == b.port else { return false }
        let v6a = a.host.contains(":"), v6b = b.host.contains(":")
        if a.host == "::" || b.host == "::" { return true }
        guard v6a == v6b else { return false }
        return a.host == b.host || a.host == "0.0.0.0" || b.host == "0.0.0.0"
    }

    /// Binds a socket as the listener would (SO_REUSEADDR for TCP, as the listeners set it)
    /// and closes it; nil when that worked, else the reason in lower case.
    static func probe(_ listener: Listener) -> String? {
        let v6 = listener.address.host.contains(":")
        let kind = listener.udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
        let fd = socket(v6 ? AF_INET6 : AF_INET, kind, 0)
        guard fd >= 0 else { return reason(errno) }
        defer { close(fd) }
        if !listener.udp {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let port = UInt16(listener.address.port).bigEndian
        func bind<Address>(_ address: inout Address) -> Int32 {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
            }
        }
        let result: Int32
        if v6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port
            guard inet_pton(AF_INET6, listener.address.host, &address.sin6_addr) == 1 else { return "not an IPv6 address" }
            result = bind(&address)
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port
            guard inet_pton(AF_INET, listener.address.host, &address.sin_addr) == 1 else { return "not an IPv4 address" }
            result = bind(&address)
        }
        return result == 0 ? nil : reason(errno)
    }

    /// `strerror` in lower case: `address already in use`, `permission denied`, …
    static func reason(_ code: Int32) -> String {
        String(cString: strerror(code)).lowercased()
    }
}
