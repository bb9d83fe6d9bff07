import NIOCore

/// The `nameserver` lines of an `/etc/resolv.conf`, port 53 each (at most 3, like glibc).
enum ResolvConf {
    static func nameservers(in text: String) -> [SocketAddress] {
        var out: [SocketAddress] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { continue }
            // A scoped IPv6 address (fe80::1%eth0) keeps its address part only.
            let text = fields[1].split(separator: "%").first.map(String.init) ?? ""
            if let address = try? SocketAddress(ipAddress: text, port: 53) { out.append(address) }
            if out.count == 3 { break }
        }
        return out
    }

    static func systemNameservers(path: String = "/etc/resolv.conf") -> [SocketAddress] {
        guard let text = try? readFile(path) else { return [] }
        return nameservers(in: text)
    }
}
