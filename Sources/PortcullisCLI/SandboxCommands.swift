import ArgumentParser
import Foundation
import OpenAPIRuntime
import PortcullisAPI
import PortcullisRunner

/// Options every API command shares.
struct APIOptions: ParsableArguments {
    @Option(name: .customLong("url"), help: "The API URL (default $PORTCULLIS_URL, the stored login, or http://127.0.0.1:8080).")
    var url: String?
    @Option(name: .customLong("token"), help: "The API key (default $PORTCULLIS_TOKEN or the stored login).")
    var token: String?
    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func client() throws -> Client { try Connection.resolve(url: url, token: token).client() }
}

/// `portcullis sandbox create|ls|show|rm`.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox", abstract: "Create, list, show and remove sandboxes.",
        subcommands: [Create.self, List.self, Show.self, Remove.self])

    static func envLines(_ s: Components.Schemas.Sandbox) -> [String] {
        [
            "export HTTP_PROXY=\(s.proxy.http_url)",
            "export HTTPS_PROXY=\(s.proxy.http_url)",
            "export http_proxy=\(s.proxy.http_url)",
            "export https_proxy=\(s.proxy.http_url)",
            "export ALL_PROXY=\(s.proxy.socks_url)",
            // For the operator's next commands (`policy deny … `, `policy ls`), not a secret.
            "export PORTCULLIS_SANDBOX=\(s.id)",
        ]
    }

    static func row(_ s: Components.Schemas.Sandbox) -> [String] {
        [s.id, s.name ?? "-", s.mode.rawValue + (s.own_mode == nil ? " (tenant)" : ""), s.profiles.joined(separator: ","), Output.time(s.created_at)]
    }

    static let header = ["ID", "NAME", "MODE", "PROFILES", "CREATED"]

    /// `caFile`: the absolute path the CA bundle was written to, exported beside the proxy
    /// variables; `credentials`: placeholders by variable, exported after them.
    static func show(_ s: Components.Schemas.Sandbox, json: Bool, env: Bool, caFile: String? = nil,
                     credentials: [(variable: String, placeholder: String)] = []) throws {
        if env {
            for line in envLines(s) { print(line) }
            if let caFile { print(CABundle.exportLine(path: caFile)) }
            for c in credentials { print(CredentialVariables.exportLine(variable: c.variable, placeholder: c.placeholder)) }
        } else if json {
            try Output.json(s)
        } else {
            Output.table(header, [row(s)])
        }
    }

    /// Writes the sandbox's CA bundle to `path` when one is given; returns its absolute path.
    static func writeBundle(_ api: APIOptions, sandboxID: String, to path: String?, created: Bool) async throws -> String? {
        guard let path else { return nil }
        return try await withAPI {
            do {
                return try await SandboxTrust.write(try api.client(), sandboxID: sandboxID, to: path)
            } catch let e as InputError where created {
                throw InputError("created sandbox \(sandboxID), but \(e.message); write it with portcullis sandbox show \(sandboxID) --env --ca-file PATH")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a sandbox and print its proxy settings.")
        @OptionGroup var api: APIOptions
        @Option(help: "A name for the sandbox.") var name: String?
        @Option(help: "Allow this host (repeatable); makes the sandbox allowlist.") var allow: [String] = []
        @Option(help: "Deny this host (repeatable); alone, makes the sandbox denylist.") var deny: [String] = []
        @Option(help: "Attach this profile (repeatable).") var profile: [String] = []
        @Option(help: "Copy the policy of this template.") var template: String?
        @Option(name: .customLong("clone-from"), help: "Copy the policy of this sandbox.") var cloneFrom: String?
        @Option(help: "The sandbox's own mode (unrestricted, audit, allowlist, denylist, isolated).") var mode: String?
        @Flag(help: "Print the proxy settings, and PORTCULLIS_SANDBOX for later commands, as export lines.") var env = false
        @Option(name: .customLong("ca-file"), help: "Write the CA bundle (the system's roots and the sandbox's CA) to this file; with --env, export SSL_CERT_FILE and the like naming it.")
        var caFile: String?
        @Option(help: "Attach this credential (repeatable); with --env, export its placeholder as ENV (default: the name in upper case).")
        var credential: [String] = []

        func validate() throws {
            _ = try SandboxCommand.credentialSpecs(credential)
        }

        func run() async throws {
            let specs = try SandboxCommand.credentialSpecs(credential)
            let s = try await withAPI(sandbox: cloneFrom, hint: { CommandHints.unknownTemplate($0, template) }) {
                let client = try api.client()
                var network: Components.Schemas.SandboxNetwork?
                if !allow.isEmpty || !deny.isEmpty { network = .init(allow: allow.isEmpty ? nil : allow, deny: deny.isEmpty ? nil : deny) }
                var modeInput: Components.Schemas.ModeInput?
                if let mode {
                    guard let m = Components.Schemas.ModeInput(rawValue: mode) else {
                        throw InputError("--mode must be unrestricted, audit, observe, allowlist, enforce, denylist or isolated")
                    }
                    modeInput = m
                }
                let body = Components.Schemas.SandboxCreate(name: name, template: template, clone_from: cloneFrom, network: network,
                                                            profiles: profile.isEmpty ? nil : profile, mode: modeInput)
                return try await Output.progress("creating sandbox") { try await client.createSandbox(body: .json(body)).created.body.json }
            }
            let placeholders = try await SandboxCommand.attach(api, specs, to: s.id)
            let written = try await SandboxCommand.writeBundle(api, sandboxID: s.id, to: caFile, created: true)
            try SandboxCommand.show(s, json: api.json, env: env, caFile: written, credentials: placeholders)
        }
    }

    /// `--credential NAME[:ENV]` values: the credential and the variable for its placeholder.
    static func credentialSpecs(_ values: [String]) throws -> [(credential: String, variable: String)] {
        var out: [(String, String)] = []
        for value in values {
            let (name, given) = CredentialVariables.parse(value)
            guard !name.isEmpty else { throw ValidationError("--credential: give NAME or NAME:ENV, not \(value)") }
            let variable = given ?? CredentialVariables.defaultName(for: name)
            if let why = CredentialVariables.refusal(variable) { throw ValidationError("--credential \(value): \(why)") }
            guard !out.contains(where: { $0.1 == variable }) else {
                throw ValidationError("--credential: two credentials would be exported as \(variable); name the variables (NAME:ENV)")
            }
            out.append((name, variable))
        }
        return out
    }

    /// Attaches each credential to the just-created sandbox; on a refusal the sandbox is
    /// removed again (no half-made sandbox), and the refusal is the command's error.
    static func attach(_ api: APIOptions, _ specs: [(credential: String, variable: String)], to sandboxID: String) async throws
        -> [(variable: String, placeholder: String)] {
        guard !specs.isEmpty else { return [] }
        return try await withAPI {
            let client = try api.client()
            var out: [(String, String)] = []
            do {
                for spec in specs {
                    let a = try await client.attachCredential(path: .init(id: sandboxID, name: spec.credential)).ok.body.json
                    out.append((spec.variable, a.placeholder))
                }
            } catch {
                _ = try? await client.deleteSandbox(path: .init(id: sandboxID))
                if let failure = (error as? ClientError)?.underlyingError as? APIFailure {
                    // The server refused (exit 1, as for any refusal), not the command line.
                    printError("credential could not be attached, so sandbox \(sandboxID) was removed again: \(failure.message)")
                    throw ExitCode(CLIExit.rejected.rawValue)
                }
                throw error
            }
            return out
        }
    }

    /// The placeholders of the credentials attached to a sandbox, each under the variable
    /// `named` gives it (`--credential NAME:ENV`), else its default one. A named credential
    /// that is not attached is an input error (show attaches nothing).
    static func attachedPlaceholders(_ api: APIOptions, sandboxID: String,
                                     named: [(credential: String, variable: String)] = []) async throws
        -> [(variable: String, placeholder: String)] {
        try await withAPI {
            let items = try await api.client().listSandboxCredentials(path: .init(id: sandboxID)).ok.body.json.items
            for spec in named where !items.contains(where: { $0.name == spec.credential }) {
                throw InputError("--credential \(spec.credential): not attached to \(sandboxID) "
                                 + "(attach it with portcullis credential attach \(sandboxID) \(spec.credential))")
            }
            return items.map { item in
                (named.first { $0.credential == item.name }?.variable ?? CredentialVariables.defaultName(for: item.name), item.placeholder)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List sandboxes, newest first.")
        @OptionGroup var api: APIOptions

        func run() async throws {
            let items = try await withAPI {
                let client = try api.client()
                var all: [Components.Schemas.Sandbox] = []
                var cursor: String?
                repeat {
                    let page = try await client.listSandboxes(query: .init(limit: 1000, cursor: cursor)).ok.body.json
                    all += page.items
                    cursor = page.next_cursor
                } while cursor != nil
                // The API pages in id order (stable, but random); people read newest first.
                return all.sorted { ($0.created_at, $0.id) > ($1.created_at, $1.id) }
            }
            if api.json { try Output.json(items) } else { Output.table(SandboxCommand.header, items.map(SandboxCommand.row)) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one sandbox.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The sandbox id.") var id: String
        @Flag(help: "Print the proxy settings, and PORTCULLIS_SANDBOX for later commands, as export lines.") var env = false
        @Option(name: .customLong("ca-file"), help: "Write the CA bundle (the system's roots and the sandbox's CA) to this file; with --env, export SSL_CERT_FILE and the like naming it.")
        var caFile: String?
        @Option(help: "With --env: export the placeholder of this attached credential as ENV (NAME:ENV; default: the name in upper case).")
        var credential: [String] = []

        func validate() throws {
            _ = try SandboxCommand.credentialSpecs(credential)
        }

        func run() async throws {
            let specs = try SandboxCommand.credentialSpecs(credential)
            let s = try await withAPI(sandbox: id) { try await api.client().getSandbox(path: .init(id: id)).ok.body.json }
            let written = try await SandboxCommand.writeBundle(api, sandboxID: s.id, to: caFile, created: false)
            let placeholders = env ? try await SandboxCommand.attachedPlaceholders(api, sandboxID: s.id, named: specs) : []
            try SandboxCommand.show(s, json: api.json, env: env, caFile: written, credentials: placeholders)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a sandbox.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The sandbox id.") var id: String

        func run() async throws {
            try await withAPI(sandbox: id) { _ = try await api.client().deleteSandbox(path: .init(id: id)).noContent }
            print("removed \(id)")
        }
    }
}
