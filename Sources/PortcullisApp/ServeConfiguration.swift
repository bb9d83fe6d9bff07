import PortcullisPolicy
import PortcullisServer

/// Everything `portcullis serve` is told, from flags or `PORTCULLIS_<NAME>` variables.
public struct ServeConfiguration: Sendable {
    public var dataDirectory = "./portcullis-data"
    public var api = HostAndPort(host: "127.0.0.1", port: 8080)
    public var proxy = HostAndPort(host: "127.0.0.1", port: 3128)
    /// SOCKS5; nil: off (`--socks off`).
    public var socks: HostAndPort? = HostAndPort(host: "127.0.0.1", port: 1080)
    /// The DNS gateway, UDP and TCP; nil: off (`--dns off`).
    public var dns: HostAndPort? = HostAndPort(host: "127.0.0.1", port: 5353)
    /// Where connections redirected by `portcullis run` arrive; nil: off (`--transparent off`).
    public var transparent: HostAndPort? = HostAndPort(host: "127.0.0.1", port: 3129)
    /// Resolvers the DNS gateway forwards to (port 53 unless given); empty: the system's.
    public var upstreamDNS: [HostAndPort] = []
    public var adminToken: String?
    public var hostsFile: String?
    public var guardExemptions: [IPNetwork] = []
    public var databaseURL: String?
    public var auditRetentionDays = 30
    /// Ask the system resolver for names the hosts file does not have.
    public var useSystemResolver = true
    /// This node's id in a fleet (`--node-id`); nil: `<hostname>:<api port>`.
    public var nodeID: String?
    /// The host other nodes and operators reach this node at (`--advertise`); nil: the
    /// bound addresses.
    public var advertise: String?
    /// The safety poll of the change log (`--sync-interval`, FLEET.md: 5 s).
    public var syncInterval: Duration = .seconds(5)
    /// Listen for change notifications (off only to measure the poll alone).
    public var listen = true
    /// Ranges whose loopback and gateway-own addresses sandboxes may claim as source
    /// addresses anyway (`--claimable`; see `SourceAddressPolicy`).
    public var claimable: [IPNetwork] = []
    /// The API listener's timeouts, connection cap and live streams per key.
    public var apiLimits = APIListenerLimits()
    /// The secrets key file (`--secrets-key-file`); nil: `<data-dir>/secrets.key`.
    public var secretsKeyFile: String?
    /// Extra CAs the upstream leg of terminated connections trusts (`--upstream-ca`, PEM files).
    public var upstreamCAFiles: [String] = []

    public init() {}

    /// Where the secrets key is read from (and, for a database without secrets, created).
    public var secretsKeyPath: String { secretsKeyFile ?? dataDirectory + "/secrets.key" }
}

/// Why `serve` refused to start, in one line naming what to fix (the secrets key file, an
/// `--upstream-ca` file): printed alone, exit status 1.
public struct StartupError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `HOST:PORT` (`[v6]:PORT` for IPv6).
public struct HostAndPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; port 0 means "any free port".
    public init?(parsing text: String) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].first == ":" else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, HostParser.parseAddress(String(host)) != nil || host == "localhost",
              portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = host == "localhost" ? "127.0.0.1" : String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
