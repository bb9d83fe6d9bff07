import ArgumentParser
import Foundation
import PortcullisPolicy

/// `portcullis check --policy FILE TARGET...`: decides targets against an exported policy
/// file with the engine alone (no network access, nothing logged).
public struct CheckCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Decide targets against an exported policy file, without any network access.",
        discussion: """
            FILE is an exported policy ({"mode", "allow_rules", "deny_rules", "profiles"}), as \
            `portcullis export` writes it. TARGET is host[:port] ([v6]:port for IPv6); without a \
            port, 443 is checked. Exit status: 0 when every target is allowed or warned, 1 when \
            one is rejected, 2 for bad input.
            """
    )

    @Option(name: .long, help: "The exported policy file (JSON).")
    var policy: String

    @Option(name: .long, help: "An address the name resolves to (repeatable), to exercise the address stage.")
    var resolved: [String] = []

    @Option(name: .long, help: "The HTTP method, for endpoint rules (makes the request visible).")
    var method: String?

    @Option(name: .long, help: "The HTTP path, for endpoint rules (makes the request visible).")
    var path: String?

    @Option(name: .long, help: "tcp or udp (default tcp).")
    var `protocol`: String = "tcp"

    @Option(name: .customLong("guard-exempt"), help: "A CIDR the address guard lets through (repeatable).")
    var guardExempt: [String] = []

    @Flag(name: .long, help: "Print one JSON object per target.")
    var json = false

    @Argument(help: "host[:port] targets to decide.")
    var targets: [String]

    public init() {}

    public func run() async throws {
        do {
            let reports = try decideAll()
            let output = json ? reports.map(\.jsonLine) : DecisionReport.table(reports)
            for line in output { print(line) }
            if reports.contains(where: { $0.decision.verdict == .reject }) { throw ExitCode(CLIExit.rejected.rawValue) }
        } catch let error as InputError {
            printError(error.message)
            throw ExitCode(CLIExit.badInput.rawValue)
        }
    }

    func decideAll() throws -> [DecisionReport] {
        guard !targets.isEmpty else { throw InputError("give at least one target, as host[:port]") }
        guard let transport = TransportProtocol(rawValue: self.protocol), transport != .any else {
            throw InputError("--protocol must be tcp or udp, not \(Escape.quoted(self.protocol))")
        }
        var exemptions: [IPNetwork] = []
        for cidr in guardExempt {
            do { exemptions.append(try HostParser.parseNetwork(cidr)) } catch {
                throw InputError("--guard-exempt: \(error.message)")
            }
        }
        var addresses: [IPAddress] = []
        for text in resolved {
            guard let a = HostParser.parseAddress(text) else {
                throw InputError("--resolved: \(Escape.quoted(text)) is not an IP address")
            }
            addresses.append(a)
        }
        var visibility = RequestVisibility.opaque
        if method != nil || path != nil {
            let m = method ?? "GET", p = path ?? "/"
            guard (try? RuleDraft.validateMethodsForCLI([m])) != nil else {
                throw InputError("--method: \(Escape.quoted(m)) is not an HTTP method such as GET or POST")
            }
            guard p.hasPrefix("/") else { throw InputError("--path must start with /") }
            visibility = .visible(RequestLine(method: m, path: p))
        }
        let (layers, version) = try PolicyFile.load(path: policy)
        let compiled = CompiledPolicy(layers: layers, version: version, addressGuard: AddressGuard(exemptions: exemptions))

        return try targets.map { text in
            let (hostText, port) = try HostPort.split(text)
            let host: TargetHost
            do { host = try HostParser.parseTarget(hostText) } catch let error as HostError { throw InputError("\(Escape.quoted(text)): \(error.message)") }
            let target = Target(host: host, port: UInt16(port ?? 443), transport: transport, request: visibility)
            if case .name = host, !addresses.isEmpty {
                let selection = compiled.evaluate(target, resolved: addresses)
                return DecisionReport(input: text, target: target, decision: selection.decision,
                                      address: selection.permitted.first ?? selection.rejected.first?.0)
            }
            let address: IPAddress? = if case .address(let a) = host { a } else { nil }
            return DecisionReport(input: text, target: target, decision: compiled.decide(target), address: address)
        }
    }
}

extension RuleDraft {
    /// Method validation as rules use it, for the CLI's --method.
    static func validateMethodsForCLI(_ methods: [String]) throws -> [String] {
        try RuleDraft(action: "allow", host: "example.com", methods: methods).validate(id: "x", source: .local).methods ?? []
    }
}
