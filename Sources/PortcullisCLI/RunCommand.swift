import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PortcullisApp
import PortcullisRunner

/// `portcullis run`: runs a command in a network namespace of its own whose every packet
/// is steered, in the host's namespace, to the gateway's transparent listener and DNS
/// gateway (see docs/runner.md). Root only.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command in a sandbox that cannot escape the gateway (Linux, root).",
        discussion: """
            Creates a network namespace and veth pair, installs host-side nftables rules that send
            the namespace's TCP to the transparent listener and its DNS to the DNS gateway and drop
            everything else, registers the namespace's address as the sandbox's source address, runs
            COMMAND inside as --user without capabilities, and removes it all when COMMAND exits.
            Exits with COMMAND's status (128+N when signal N killed it); 1 when the API refused or the
            host could not be set up, 2 for bad input (also: not root), 3 when the API is unreachable.

              sudo portcullis run --new --allow pypi.org -- pip download requests
              sudo portcullis run --sandbox sbx_… --user alice -- bash
            """
    )

    @Option(help: "Run as this existing sandbox.") var sandbox: String?
    @Flag(help: "Create a sandbox for this run (deleted at exit unless --keep).") var new = false
    @Option(help: "With --new: allow this host (repeatable); makes the sandbox allowlist.") var allow: [String] = []
    @Option(help: "With --new: deny this host (repeatable); alone, makes the sandbox denylist.") var deny: [String] = []
    @Option(help: "With --new: attach this profile (repeatable).") var profile: [String] = []
    @Option(help: "With --new: a name for the sandbox.") var name: String?
    @Flag(help: "With --new: keep the sandbox after the command exits.") var keep = false
    @Option(help: "Attach this credential (repeatable) and export its placeholder as ENV (default: the name in upper case); credentials already attached are exported too.")
    var credential: [String] = []
    @Option(name: [.customLong("api"), .customLong("url")], help: "The API URL (default $PORTCULLIS_URL, the stored login, or http://127.0.0.1:8080).")
    var api: String?
    @Option(help: "The API key, a tenant key or the admin key (default $PORTCULLIS_TOKEN or the stored login).") var token: String?
    @Option(help: "serve's transparent listener, HOST:PORT (default $PORTCULLIS_TRANSPARENT or 127.0.0.1:3129).") var transparent: String?
    @Option(help: "serve's DNS gateway, HOST:PORT (default $PORTCULLIS_DNS or 127.0.0.1:5353).") var dns: String?
    @Option(help: "Address pool, an IPv4 CIDR (default a /16 of 100.64.0.0/10 the host does not use).") var pool: String?
    @Option(help: "Run the command as this user, name or uid (default $SUDO_USER, else the invoking user).") var user: String?
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    func validate() throws {
        if new == (sandbox != nil) { throw ValidationError("give --sandbox ID or --new (one of them)") }
        if !new && (!allow.isEmpty || !deny.isEmpty || !profile.isEmpty || keep || name != nil) {
            throw ValidationError("--allow, --deny, --profile, --name and --keep go with --new")
        }
        if let sandbox, RunNames(sandboxID: sandbox) == nil {
            throw ValidationError("--sandbox must be a sandbox id (sbx_ followed by lower-case letters and digits), not \(sandbox)")
        }
        _ = try SandboxCommand.credentialSpecs(credential)
        if command.isEmpty { throw ValidationError("give the command to run after --, e.g. portcullis run --new -- curl https://pypi.org/") }
        if let pool {
            guard let block = IPv4Block(pool) else { throw ValidationError("--pool must be an IPv4 CIDR such as 100.120.0.0/16, not \(pool)") }
            if let reason = AddressPool.validate(block) { throw ValidationError(reason) }
        }
        do {
            _ = try listeners(environment: [:])
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The two listeners: flags, else `PORTCULLIS_TRANSPARENT`/`PORTCULLIS_DNS`, else serve's defaults.
    func listeners(environment: [String: String]) throws(RunInputError) -> (transparent: ListenerAddress, dns: ListenerAddress) {
        let defaults = ServeConfiguration()
        let t = ServeCommand.value(transparent, "TRANSPARENT", environment: environment) ?? defaults.transparent?.description ?? ""
        let d = ServeCommand.value(dns, "DNS", environment: environment) ?? defaults.dns?.description ?? ""
        return (try ListenerAddress.parse(t, option: "--transparent"), try ListenerAddress.parse(d, option: "--dns"))
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard geteuid() == 0 else {
            printError("portcullis run needs root (it creates a network namespace, a veth pair and nftables rules): try sudo portcullis run …")
            throw ExitCode(CLIExit.badInput.rawValue)
        }
        let status = try await withAPI {
            let host: HostExecutor
            let targets: (transparent: ListenerAddress, dns: ListenerAddress)
            let runUser: RunUser
            do throws(RunInputError) {
                host = try HostExecutor.locate()
                targets = try listeners(environment: environment)
                runUser = try RunUser.lookup(RunUser.choose(flag: user, environment: environment, invokingUID: getuid()))
            } catch {
                throw InputError(error.message)
            }
            let client = try Connection.resolve(url: api, token: token).client()
            var session = RunSession(client: client, host: host, store: RunRecordStore(),
                                     transparent: targets.transparent, dns: targets.dns, user: runUser,
                                     pool: pool.flatMap(IPv4Block.init), command: command, environment: environment)
            session.credentials = try SandboxCommand.credentialSpecs(credential)
            let request: RunSession.SandboxRequest = new
                ? .create(name: name, allow: allow, deny: deny, profiles: profile, keep: keep)
                : .existing(sandbox ?? "")
            return try await session.run(request)
        }
        if status != 0 { throw ExitCode(status) }
    }
}
