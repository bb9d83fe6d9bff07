import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether anything listens where a run's rules send the sandbox's packets, read from the
/// kernel's socket tables (`/proc/net/{tcp,tcp6,udp,udp6}` of the host's namespace) without
/// touching the listeners. A run whose `--transparent` or `--dns` names an address `serve`
/// does not bind (`0.0.0.0` while serve is on 127.0.0.1, another port) would leave the
/// sandbox with refused connections and unanswered DNS; `run` warns at start instead.
public enum ListenerCheck {
    /// One bound socket: a listening TCP socket, or a bound UDP one.
    public struct BoundSocket: Hashable, Sendable {
        public let tcp: Bool
        /// 4 bytes (IPv4) or 16 (IPv6), network order.
        public let address: [UInt8]
        public let port: UInt16

        public init(tcp: Bool, address: [UInt8], port: UInt16) {
            self.tcp = tcp
            self.address = address
            self.port = port
        }

        var isWildcard: Bool { address.allSatisfy { $0 == 0 } }

        /// The IPv4 address an IPv4-mapped IPv6 socket is bound to.
        var ipv4: [UInt8]? {
            if address.count == 4 { return address }
            if address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF {
                return Array(address[12...])
            }
            return nil
        }

        var text: String {
            if let v4 = ipv4 { return v4.map(String.init).joined(separator: ".") + ":\(port)" }
            return isWildcard ? "[::]:\(port)" : "[IPv6]:\(port)"
        }
    }

    /// Parses one `/proc/net/{tcp,udp}[6]` table: TCP sockets in LISTEN (state 0A), UDP
    /// sockets unconnected (state 07). Lines that do not parse are skipped.
    public static func parse(_ table: String, tcp: Bool) -> [BoundSocket] {
        table.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[3] == (tcp ? "0A" : "07") else { return nil }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, let port = UInt16(local[1], radix: 16), let address = hostOrderWords(local[0]) else { return nil }
            return BoundSocket(tcp: tcp, address: address, port: port)
        }
    }

    /// The kernel prints an address as 32-bit words in host byte order; their bytes in
    /// memory are the address in network order.
    static func hostOrderWords(_ hex: Substring) -> [UInt8]? {
        guard hex.count == 8 || hex.count == 32 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 8)
            guard let word = UInt32(hex[index..<next], radix: 16) else { return nil }
            withUnsafeBytes(of: word) { bytes += $0 }
            index = next
        }
        return bytes
    }

    /// Whether a socket takes what the rules send to `listener` over TCP or UDP: a redirect to
    /// the host end of the link needs the wildcard address; a dnat to an address needs that
    /// address or the wildcard.
    public static func covered(_ listener: ListenerAddress, tcp: Bool, by sockets: [BoundSocket]) -> Bool {
        let target = IPv4Block.parseAddress(listener.host).map { value in
            [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        return sockets.contains { s in
            guard s.tcp == tcp, s.port == listener.port else { return false }
            if s.isWildcard || s.ipv4 == [0, 0, 0, 0] { return true }
            return listener.reach != .wildcard && s.ipv4 == target
        }
    }

    /// The warnings for a run's two listeners, given the host's sockets (empty: all is well).
    public static func warnings(transparent: ListenerAddress, dns: ListenerAddress, sockets: [BoundSocket]) -> [String] {
        var out: [String] = []
        for (option, listener, tcp, what) in [("--transparent", transparent, true, "the sandbox's TCP connections would be refused"),
                                              ("--dns", dns, false, "the sandbox's DNS queries would go unanswered"),
                                              ("--dns", dns, true, "the sandbox's DNS queries over TCP would be refused")]
        where !covered(listener, tcp: tcp, by: sockets) {
            if out.contains(where: { $0.hasPrefix("\(option) \(listener):") }) { continue }
            let place = listener.reach == .wildcard ? "on the wildcard address at port \(listener.port)" : "there"
            let elsewhere = sockets.filter { $0.tcp == tcp && $0.port == listener.port }.map(\.text)
            let seen = elsewhere.isEmpty ? "" : " (something listens on \(elsewhere.joined(separator: ", ")))"
            out.append("\(option) \(listener): nothing listens \(place) over \(tcp ? "TCP" : "UDP")\(seen), so \(what); "
                + "give run the address serve's \(option) binds (serve prints it at start)")
        }
        return out
    }

    /// The host's bound sockets, from /proc/net; nil when the IPv4 tables cannot be read
    /// (then nothing is known, and nothing is said).
    public static func hostSockets(root: String = "/proc/net") -> [BoundSocket]? {
        var out: [BoundSocket] = []
        for (name, tcp) in [("tcp", true), ("tcp6", true), ("udp", false), ("udp6", false)] {
            guard let text = readAll("\(root)/\(name)") else {
                if name.hasSuffix("6") { continue }
                return nil
            }
            out += parse(text, tcp: tcp)
        }
        return out
    }

    /// A /proc file read to its end (Foundation's `String(contentsOfFile:)` returns only its
    /// first page: /proc files report size 0). At most 64 MiB.
    static func readAll(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while bytes.count < 64 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
