import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PortcullisApp
@testable import PortcullisCLI
import Testing

/// `serve`'s listener flags: `off`, their variables in `--help`, and one clear line when a
/// listener cannot bind.
@Suite("serve listener flags")
struct ServeFlagsTests {
    /// Every long option of `serve --help` with the variable its help must name.
    /// (A long flag's help starts on the next line; continuation lines are joined.)
    static func options() -> [(flag: String, variable: String, line: String)] {
        var entries: [String] = []
        var inOptions = false
        for line in ServeCommand.helpMessage(columns: 100).split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("OPTIONS:") { inOptions = true; continue }
            guard inOptions, !trimmed.isEmpty else { continue }
            if trimmed.hasPrefix("-") { entries.append(trimmed) } else if !entries.isEmpty { entries[entries.count - 1] += " " + trimmed }
        }
        return entries.compactMap { entry in
            guard entry.hasPrefix("--") else { return nil }
            let flag = String(entry.dropFirst(2).prefix { $0 != " " && $0 != "<" })
            return (flag, "PORTCULLIS_" + flag.uppercased().replacingOccurrences(of: "-", with: "_"), entry)
        }
    }

    @Test("serve --help names the PORTCULLIS_ variable of every flag")
    func helpNamesVariables() {
        let options = Self.options()
        #expect(options.count >= 13, "\(options.map(\.flag))")
        for option in options {
            #expect(option.line.contains("env \(option.variable)"), "--\(option.flag): \(option.line)")
        }
    }

    @Test("each variable the help names is read (a flag still wins)")
    func variablesAreRead() throws {
        let values: [String: String] = [
            "PORTCULLIS_DATA_DIR": "/tmp/pc-d", "PORTCULLIS_API": "127.0.0.1:9001", "PORTCULLIS_PROXY": "127.0.0.1:9002",
            "PORTCULLIS_SOCKS": "127.0.0.1:9003", "PORTCULLIS_DNS": "127.0.0.1:9004", "PORTCULLIS_TRANSPARENT": "127.0.0.1:9005",
            "PORTCULLIS_UPSTREAM_DNS": "192.0.2.53", "PORTCULLIS_ADMIN_TOKEN": "0123456789abcdef0123", "PORTCULLIS_HOSTS_FILE": "/etc/hosts",
            "PORTCULLIS_GUARD_EXEMPT": "10.0.0.0/8", "PORTCULLIS_DATABASE_URL": "postgres://u@h/db", "PORTCULLIS_AUDIT_RETENTION_DAYS": "9",
            "PORTCULLIS_NO_SYSTEM_RESOLVER": "1", "PORTCULLIS_NODE_ID": "node-a", "PORTCULLIS_ADVERTISE": "gw.example",
            "PORTCULLIS_SYNC_INTERVAL": "500ms", "PORTCULLIS_API_HEAD_TIMEOUT": "11", "PORTCULLIS_API_IDLE_TIMEOUT": "61",
            "PORTCULLIS_API_MAX_CONNECTIONS": "513", "PORTCULLIS_API_MAX_STREAMS_PER_KEY": "9", "PORTCULLIS_CLAIMABLE": "127.0.0.0/8",
            "PORTCULLIS_SECRETS_KEY_FILE": "/tmp/pc-d/other.key", "PORTCULLIS_UPSTREAM_CA": "/etc/hosts",
        ]
        for option in Self.options() {
            #expect(values[option.variable] != nil, "the test lacks a value for \(option.variable)")
        }
        let c = try ServeCommand.parse([]).configuration(environment: values)
        let defaults = ServeConfiguration()
        #expect(c.dataDirectory == "/tmp/pc-d" && c.api.port == 9001 && c.proxy.port == 9002 && c.socks?.port == 9003)
        #expect(c.dns?.port == 9004 && c.transparent?.port == 9005 && c.upstreamDNS.map(\.description) == ["192.0.2.53:53"])
        #expect(c.adminToken == "0123456789abcdef0123" && c.hostsFile == "/etc/hosts" && c.guardExemptions.count == 1)
        #expect(c.databaseURL == "postgres://u@h/db" && c.auditRetentionDays == 9 && !c.useSystemResolver)
        #expect(c.nodeID == "node-a" && c.advertise == "gw.example" && c.syncInterval == .milliseconds(500))
        #expect(c.apiLimits.headTimeout == .seconds(11) && c.apiLimits.idleTimeout == .seconds(61))
        #expect(c.apiLimits.maxConnections == 513 && c.apiLimits.maxStreamsPerKey == 9 && c.claimable.map(\.description) == ["127.0.0.0/8"])
        #expect(c.secretsKeyFile == "/tmp/pc-d/other.key" && c.secretsKeyPath == "/tmp/pc-d/other.key" && c.upstreamCAFiles == ["/etc/hosts"])
        #expect(defaults.useSystemResolver && defaults.socks != nil)
    }

    @Test("--advertise takes a host name or IP address, canonical, and refuses a port or anything else")
    func advertise() throws {
        for (given, kept) in [("GW.Example", "gw.example"), ("10.0.0.5", "10.0.0.5"), ("[2001:db8::5]", "2001:db8::5"), ("2001:db8::5", "2001:db8::5")] {
            #expect(try ServeCommand.parse(["--advertise", given]).configuration(environment: [:]).advertise == kept, "\(given)")
        }
        for bad in ["10.0.0.5:9999", "gw.example:8080", "http://gw.example", "gw example", "*.example", "10.0.0.0/8", ""] {
            do {
                _ = try ServeCommand.parse(["--advertise", bad]).configuration(environment: [:])
                Issue.record("--advertise \(bad) was accepted")
            } catch let error as InputError {
                #expect(error.message.contains("--advertise must be a host name or IP address without a port"), "\(error.message)")
            }
        }
    }

    @Test("--socks, --dns and --transparent take off, by flag or variable; the others refuse it by name")
    func off() throws {
        let c = try ServeCommand.parse(["--socks", "off", "--dns", "off"]).configuration(environment: ["PORTCULLIS_TRANSPARENT": "off"])
        #expect(c.socks == nil && c.dns == nil && c.transparent == nil)
        let on = try ServeCommand.parse([]).configuration(environment: [:])
        #expect(on.socks?.description == "127.0.0.1:1080" && on.dns?.description == "127.0.0.1:5353" && on.transparent?.description == "127.0.0.1:3129")
        for flag in ["--api", "--proxy"] {
            do {
                _ = try ServeCommand.parse([flag, "off"]).configuration(environment: [:])
                Issue.record("\(flag) off was accepted")
            } catch let error as InputError {
                #expect(error.message.contains("only --socks, --dns and --transparent can be off"), "\(error.message)")
            }
        }
    }

    /// A TCP socket listening on a free loopback port; closed by the caller.
    func occupied() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in bind(fd, p, length) == 0 && getsockname(fd, p, &length) == 0 }
        }
        guard bound, listen(fd, 1) == 0 else { close(fd); throw InputError("could not listen on loopback") }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test("a listener whose address is taken is named with its flag, address and reason")
    func bindFailureNamesTheFlag() throws {
        let taken = try occupied()
        defer { close(taken.fd) }
        var config = ServeConfiguration()
        config.api = HostAndPort(host: "127.0.0.1", port: 0)
        config.proxy = HostAndPort(host: "127.0.0.1", port: 0)
        config.socks = nil
        config.dns = nil
        config.transparent = HostAndPort(host: "127.0.0.1", port: taken.port)
        #expect(throws: ListenerBindError(flag: "transparent", address: config.transparent!, reason: "address already in use")) {
            try ListenerPreflight.check(config)
        }
        #expect(ListenerBindError(flag: "transparent", address: HostAndPort(host: "127.0.0.1", port: 3129), reason: "address already in use")
            .description == "--transparent 127.0.0.1:3129: address already in use")
        config.transparent = nil
        try ListenerPreflight.check(config)
    }

    @Test("two of serve's own listeners on one port are caught before either binds")
    func ownCollision() throws {
        var config = ServeConfiguration()
        config.api = HostAndPort(host: "127.0.0.1", port: 0)
        config.proxy = HostAndPort(host: "0.0.0.0", port: 47_123)
        config.socks = nil
        config.dns = nil
        config.transparent = HostAndPort(host: "127.0.0.1", port: 47_123)
        #expect(throws: ListenerBindError(flag: "transparent", address: config.transparent!,
                                          reason: "address already in use (by --proxy 0.0.0.0:47123)")) {
            try ListenerPreflight.check(config)
        }
    }
}
