import ArgumentParser
import PortcullisApp
import PortcullisPolicy

/// `serve` flags for the control plane: the API listener's bounds and the source addresses
/// sandboxes may claim. Each can also come from `PORTCULLIS_<NAME>` (docs/api.md, "The API
/// listener" and "Source addresses").
struct ServeControlOptions: ParsableArguments {
    @Option(name: .customLong("api-head-timeout"), help: "Seconds an API request head may take to arrive (default 10; env PORTCULLIS_API_HEAD_TIMEOUT).")
    var apiHeadTimeout: String?
    @Option(name: .customLong("api-idle-timeout"), help: "Seconds an API connection may stay idle (default 60; env PORTCULLIS_API_IDLE_TIMEOUT).")
    var apiIdleTimeout: String?
    @Option(name: .customLong("api-max-connections"), help: "Open API connections at most; more wait to be accepted (default 512; env PORTCULLIS_API_MAX_CONNECTIONS).")
    var apiMaxConnections: String?
    @Option(name: .customLong("api-max-streams-per-key"), help: "Live audit streams one API key may hold (default 8; env PORTCULLIS_API_MAX_STREAMS_PER_KEY).")
    var apiMaxStreamsPerKey: String?
    @Option(name: .customLong("claimable"),
            help: "A CIDR whose loopback or gateway-own addresses sandboxes may claim as source addresses (repeatable; single-host setups and tests; env PORTCULLIS_CLAIMABLE=a,b).")
    var claimable: [String] = []

    init() {}

    /// Sets the control-plane fields of `c` from the flags and the environment.
    func apply(to c: inout ServeConfiguration, environment: [String: String]) throws {
        func number(_ flag: String?, _ name: String, _ range: ClosedRange<Int>, _ what: String) throws -> Int? {
            guard let text = ServeCommand.value(flag, name, environment: environment) else { return nil }
            guard let n = Int(text), range.contains(n) else {
                throw InputError("--\(name.lowercased().replacingOccurrences(of: "_", with: "-")) must be \(what) from \(range.lowerBound) to \(range.upperBound), not \(Escape.quoted(text))")
            }
            return n
        }
        if let s = try number(apiHeadTimeout, "API_HEAD_TIMEOUT", 1...3600, "a number of seconds") { c.apiLimits.headTimeout = .seconds(Int64(s)) }
        if let s = try number(apiIdleTimeout, "API_IDLE_TIMEOUT", 1...86400, "a number of seconds") { c.apiLimits.idleTimeout = .seconds(Int64(s)) }
        if let n = try number(apiMaxConnections, "API_MAX_CONNECTIONS", 1...100_000, "a number of connections") { c.apiLimits.maxConnections = n }
        if let n = try number(apiMaxStreamsPerKey, "API_MAX_STREAMS_PER_KEY", 1...10_000, "a number of streams") { c.apiLimits.maxStreamsPerKey = n }
        var ranges = claimable
        if ranges.isEmpty, let env = environment["PORTCULLIS_CLAIMABLE"] {
            ranges = env.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        for cidr in ranges {
            do { c.claimable.append(try HostParser.parseNetwork(cidr)) } catch { throw InputError("--claimable: \(error.message)") }
        }
    }
}
