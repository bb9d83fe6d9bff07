import ArgumentParser
import Foundation
import Logging
import PortcullisApp
import PortcullisPolicy

/// `portcullis serve`: the whole gateway in one process. Every flag can also come from
/// `PORTCULLIS_<NAME>` (e.g. `PORTCULLIS_DATA_DIR`, `PORTCULLIS_GUARD_EXEMPT=a,b`), and its
/// help names that variable.
public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway: API, HTTP/CONNECT proxy, SOCKS5, DNS gateway and transparent listener, on an embedded SQLite database by default.",
        discussion: """
            Each flag can also be given as the environment variable its help names (a flag wins over \
            its variable; a repeatable flag's variable takes a comma-separated list). --socks, --dns and \
            --transparent take `off` to leave that listener out. A listener that cannot bind stops \
            serve with one line naming the flag, the address and the reason, and exit status 1; bad \
            input exits 2.
            """
    )

    @Option(name: .customLong("data-dir"), help: "Where the SQLite database lives (default ./portcullis-data; env PORTCULLIS_DATA_DIR).")
    var dataDir: String?
    @Option(help: "API listen address (default 127.0.0.1:8080; env PORTCULLIS_API).")
    var api: String?
    @Option(help: "HTTP/CONNECT proxy listen address (default 127.0.0.1:3128; env PORTCULLIS_PROXY).")
    var proxy: String?
    @Option(help: "SOCKS5 listen address, or off (default 127.0.0.1:1080; env PORTCULLIS_SOCKS).")
    var socks: String?
    @Option(help: "DNS gateway listen address, UDP and TCP, or off (default 127.0.0.1:5353; env PORTCULLIS_DNS).")
    var dns: String?
    @Option(help: "Transparent listener for `portcullis run` sandboxes, or off (default 127.0.0.1:3129; env PORTCULLIS_TRANSPARENT).")
    var transparent: String?
    @Option(name: .customLong("upstream-dns"), help: "A resolver the DNS gateway forwards to, ADDR[:PORT] (repeatable; default the system's; env PORTCULLIS_UPSTREAM_DNS=a,b).")
    var upstreamDNS: [String] = []
    @Option(name: .customLong("admin-token"), help: "Use this admin API key (at least 16 characters) instead of generating one (env PORTCULLIS_ADMIN_TOKEN).")
    var adminToken: String?
    @Option(name: .customLong("hosts-file"), help: "An /etc/hosts-format file consulted before the system resolver (env PORTCULLIS_HOSTS_FILE).")
    var hostsFile: String?
    @Option(name: .customLong("guard-exempt"), help: "A CIDR the address guard lets through (repeatable; never link-local or metadata; env PORTCULLIS_GUARD_EXEMPT=a,b).")
    var guardExempt: [String] = []
    @Option(name: .customLong("database-url"), help: "A postgres:// URL to use PostgreSQL instead of SQLite (env PORTCULLIS_DATABASE_URL).")
    var databaseURL: String?
    @Option(name: .customLong("audit-retention-days"), help: "Days of audit log to keep (default 30; env PORTCULLIS_AUDIT_RETENTION_DAYS).")
    var auditRetentionDays: String?
    @Flag(name: .customLong("no-system-resolver"), help: "Resolve names only through --hosts-file (env PORTCULLIS_NO_SYSTEM_RESOLVER=1).")
    var noSystemResolver = false
    @Option(name: .customLong("node-id"), help: "This node's id in a fleet on one PostgreSQL (default <hostname>:<api port>; needs --database-url; env PORTCULLIS_NODE_ID).")
    var nodeID: String?
    @Option(help: "The host other nodes and operators reach this node at (default: the bound addresses; env PORTCULLIS_ADVERTISE).")
    var advertise: String?
    @Option(name: .customLong("sync-interval"), help: "The safety poll for policy changes, e.g. 5s or 500ms (default 5s; env PORTCULLIS_SYNC_INTERVAL).")
    var syncInterval: String?
    @Flag(name: .customLong("no-listen"), help: .hidden)
    var noListen = false
    @OptionGroup var control: ServeControlOptions
    @OptionGroup var inspection: ServeInspectionOptions

    public init() {}

    /// Flag value, else `PORTCULLIS_<NAME>`, else nil.
    static func value(_ flag: String?, _ name: String, environment: [String: String]) -> String? {
        if let flag { return flag }
        if let v = environment["PORTCULLIS_" + name], !v.isEmpty { return v }
        return nil
    }

    /// Builds the configuration from flags and environment, or says precisely what is wrong.
    func configuration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServeConfiguration {
        var c = ServeConfiguration()
        func address(_ flag: String?, _ name: String, _ keep: HostAndPort) throws -> HostAndPort {
            guard let text = Self.value(flag, name, environment: environment) else { return keep }
            guard let parsed = HostAndPort(parsing: text) else {
                let off = text == "off" ? " (only --socks, --dns and --transparent can be off)" : ""
                throw InputError("--\(name.lowercased()) must be IP:PORT (or [IPv6]:PORT), not \(Escape.quoted(text))\(off)")
            }
            return parsed
        }
        func optional(_ flag: String?, _ name: String, _ keep: HostAndPort?) throws -> HostAndPort? {
            guard let text = Self.value(flag, name, environment: environment) else { return keep }
            if text == "off" { return nil }
            guard let parsed = HostAndPort(parsing: text) else {
                throw InputError("--\(name.lowercased()) must be IP:PORT (or [IPv6]:PORT) or off, not \(Escape.quoted(text))")
            }
            return parsed
        }
        c.dataDirectory = Self.value(dataDir, "DATA_DIR", environment: environment) ?? c.dataDirectory
        c.api = try address(api, "API", c.api)
        c.proxy = try address(proxy, "PROXY", c.proxy)
        c.socks = try optional(socks, "SOCKS", c.socks)
        c.dns = try optional(dns, "DNS", c.dns)
        c.transparent = try optional(transparent, "TRANSPARENT", c.transparent)
        var upstreams = upstreamDNS
        if upstreams.isEmpty, let env = environment["PORTCULLIS_UPSTREAM_DNS"] {
            upstreams = env.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        for text in upstreams {
            if let parsed = HostAndPort(parsing: text), parsed.port != 0 {
                c.upstreamDNS.append(parsed)
            } else if HostParser.parseAddress(text) != nil {
                c.upstreamDNS.append(HostAndPort(host: text, port: 53))
            } else if text.hasPrefix("["), text.hasSuffix("]"), HostParser.parseAddress(String(text.dropFirst().dropLast())) != nil {
                c.upstreamDNS.append(HostAndPort(host: String(text.dropFirst().dropLast()), port: 53))
            } else {
                throw InputError("--upstream-dns must be an IP address with an optional :PORT, not \(Escape.quoted(text))")
            }
        }
        c.adminToken = Self.value(adminToken, "ADMIN_TOKEN", environment: environment)
        if let t = c.adminToken, t.utf8.count < 16 { throw InputError("--admin-token must be at least 16 characters") }
        c.hostsFile = Self.value(hostsFile, "HOSTS_FILE", environment: environment)
        if let path = c.hostsFile, !FileManager.default.isReadableFile(atPath: path) {
            throw InputError("--hosts-file \(path) cannot be read")
        }
        var exempt = guardExempt
        if exempt.isEmpty, let env = environment["PORTCULLIS_GUARD_EXEMPT"] {
            exempt = env.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        for cidr in exempt {
            do { c.guardExemptions.append(try HostParser.parseNetwork(cidr)) } catch { throw InputError("--guard-exempt: \(error.message)") }
        }
        c.databaseURL = Self.value(databaseURL, "DATABASE_URL", environment: environment)
        if let url = c.databaseURL, !(url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")) {
            throw InputError("--database-url must be a postgres:// URL")
        }
        if let days = Self.value(auditRetentionDays, "AUDIT_RETENTION_DAYS", environment: environment) {
            guard let n = Int(days), (1...3650).contains(n) else { throw InputError("--audit-retention-days must be a number of days from 1 to 3650") }
            c.auditRetentionDays = n
        }
        c.useSystemResolver = !(noSystemResolver || environment["PORTCULLIS_NO_SYSTEM_RESOLVER"] == "1")
        try fleet(&c, environment: environment)
        try control.apply(to: &c, environment: environment)
        try inspection.apply(to: &c, environment: environment)
        return c
    }

    public func run() async throws {
        let config: ServeConfiguration
        do { config = try configuration() } catch let error as InputError {
            printError(error.message)
            throw ExitCode(CLIExit.badInput.rawValue)
        }
        var logger = Logger(label: "portcullis")
        logger.logLevel = .info
        do {
            try await PortcullisApp.run(config, logger: logger)
        } catch let error as StartupError {
            printError(error.message)
            throw ExitCode.failure
        } catch let error as ListenerBindError {
            printError(error.description)
            throw ExitCode.failure
        } catch {
            printError("serve stopped: \(error)")
            throw ExitCode.failure
        }
    }
}

extension ServeCommand {
    /// `--node-id`, `--advertise`, `--sync-interval` (FLEET.md).
    func fleet(_ c: inout ServeConfiguration, environment: [String: String]) throws {
        if let id = Self.value(nodeID, "NODE_ID", environment: environment) {
            guard c.databaseURL != nil else {
                throw InputError("--node-id needs --database-url: a fleet of nodes shares one PostgreSQL database; on SQLite a gateway is a single node")
            }
            guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw InputError("--node-id must be 1-128 printable characters without spaces, not \(Escape.quoted(id))")
            }
            c.nodeID = id
        }
        if let host = Self.value(advertise, "ADVERTISE", environment: environment) {
            // A host only: each advertised address takes the port of its listener.
            guard (1...253).contains(host.utf8.count), let parsed = try? HostParser.parseTarget(host) else {
                throw InputError("--advertise must be a host name or IP address without a port (each listener's own port is "
                                 + "advertised with it), not \(Escape.quoted(host))")
            }
            c.advertise = parsed.description
        }
        if let text = Self.value(syncInterval, "SYNC_INTERVAL", environment: environment) {
            guard let d = Self.duration(text), d >= .milliseconds(100), d <= .seconds(3600) else {
                throw InputError("--sync-interval must be a duration from 100ms to 3600s such as 5s or 500ms, not \(Escape.quoted(text))")
            }
            c.syncInterval = d
        }
        c.listen = !(noListen || environment["PORTCULLIS_NO_LISTEN"] == "1")
    }

    /// `500ms`, `5s`, `2m` or a bare number of seconds.
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
        for (suffix, ms) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if number.allSatisfy(\.isASCII), let n = Int64(number), n >= 0 { return .milliseconds(n * ms) }
            if suffix == "ms" { return nil }
        }
        guard text.allSatisfy(\.isASCII), let n = Int64(text), n >= 0 else { return nil }
        return .seconds(n)
    }
}
