/// Where one of serve's listeners (transparent or DNS) is, as given to `run`
/// (`--transparent`, `--dns`), and how the host-side rules reach it.
public struct ListenerAddress: Hashable, Sendable, CustomStringConvertible {
    /// How the nftables rule sends the sandbox's packets to the listener.
    public enum Reach: Hashable, Sendable {
        /// The listener is on 127.0.0.0/8: `dnat` to it, with `route_localnet` set on the
        /// run's own host link (never host-wide).
        case loopback
        /// The listener is on the wildcard address: `redirect` to the port on the address of
        /// the host end of the veth.
        case wildcard
        /// The listener is on one host address: `dnat` to it.
        case address
    }

    /// IPv4 text (`0.0.0.0` for the wildcard, which `[::]` also means on Linux's dual stack).
    public let host: String
    public let port: UInt16
    public let reach: Reach

    /// Parses `HOST:PORT` (`127.0.0.1:3129`, `0.0.0.0:5353`, `[::]:5353`). The sandbox
    /// speaks IPv4 only, so an IPv6 address other than the wildcard is refused.
    public static func parse(_ text: String, option: String) throws(RunInputError) -> ListenerAddress {
        if text == "off" {
            throw RunInputError("\(option) is off (PORTCULLIS_\(option.dropFirst(2).uppercased())=off?): portcullis run needs serve's "
                + "transparent listener and DNS gateway; give the address serve binds, e.g. \(option) 0.0.0.0:\(option == "--dns" ? 5353 : 3129)")
        }
        guard let colon = text.lastIndex(of: ":") else {
            throw RunInputError("\(option) must be HOST:PORT such as 127.0.0.1:3129, not \(text)")
        }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard let port = UInt16(portText), port > 0 else {
            throw RunInputError("\(option) needs a port from 1 to 65535, not \(text)")
        }
        if host == "[::]" || host == "::" || host == "*" || host.isEmpty { host = "0.0.0.0" }
        guard let value = IPv4Block.parseAddress(host) else {
            throw RunInputError("\(option) must be an IPv4 address or the wildcard ([::] or 0.0.0.0) with a port, not \(text)")
        }
        let reach: Reach = value == 0 ? .wildcard : (value >> 24 == 127 ? .loopback : .address)
        return ListenerAddress(host: host, port: port, reach: reach)
    }

    public var description: String { "\(host):\(port)" }
}

/// Bad input to `run`: one line on stderr, exit 2.
public struct RunInputError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
