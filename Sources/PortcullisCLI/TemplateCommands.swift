import ArgumentParser
import Foundation
import PortcullisAPI

/// `portcullis template create|ls|show|rm`: stored policies to create sandboxes from
/// (`sandbox create --template NAME`).
struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template", abstract: "Store, list, show and remove policy templates to create sandboxes from.",
        subcommands: [Create.self, List.self, Show.self, Remove.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a policy as a template.",
            discussion: """
                The policy comes from a sandbox (--from-sandbox: its own mode, rules and profiles), from \
                a file as `portcullis export` writes it (--policy FILE, - for standard input), or from \
                nothing; --mode, --allow, --deny and --profile apply on top. Sandboxes created from the \
                template get a copy; later changes to the template do not reach them.

                  portcullis template create python-ds --from-sandbox sbx_…
                  portcullis template create locked --mode allowlist --profile pypi --allow api.openai.com
                """)
        @OptionGroup var api: APIOptions
        @Argument(help: "The template name (a-z, 0-9, '.', '_', '-').") var name: String
        @Option(name: .customLong("from-sandbox"), help: "Copy this sandbox's own mode, rules and profiles.") var fromSandbox: String?
        @Option(help: "An exported policy file (- for standard input).") var policy: String?
        @Option(help: "The mode sandboxes get (unrestricted, audit, allowlist, denylist, isolated).") var mode: String?
        @Option(help: "Allow this host, HOST[:PORT] (repeatable).") var allow: [String] = []
        @Option(help: "Deny this host, HOST[:PORT] (repeatable).") var deny: [String] = []
        @Option(help: "Attach this profile (repeatable).") var profile: [String] = []

        func validate() throws {
            if fromSandbox != nil && policy != nil { throw ValidationError("give --from-sandbox or --policy, not both") }
        }

        func run() async throws {
            let t = try await withAPI(sandbox: fromSandbox) {
                let client = try api.client()
                var base = Schemas.ExportedPolicy()
                if let fromSandbox {
                    base = try await client.getSandboxPolicy(path: .init(id: fromSandbox)).ok.body.json.exported
                } else if let policy {
                    base = try ExportedPolicyFile.read(policy)
                }
                if let mode {
                    guard let m = Schemas.ModeInput(rawValue: mode) else {
                        throw InputError("--mode must be unrestricted, audit, observe, allowlist, enforce, denylist or isolated")
                    }
                    base.mode = m
                }
                func rules(_ targets: [String], _ action: Schemas.RuleAction) throws -> [Schemas.RuleInput] {
                    try targets.map { text in
                        let (host, port) = try HostPort.split(text)
                        return Schemas.RuleInput(action: action, host: host, port: port)
                    }
                }
                let body = Schemas.TemplateCreate(
                    name: name, mode: base.mode, allow_rules: (base.allow_rules ?? []) + (try rules(allow, .allow)),
                    deny_rules: (base.deny_rules ?? []) + (try rules(deny, .deny)), profiles: (base.profiles ?? []) + profile)
                return try await client.createTemplate(body: .json(body)).created.body.json
            }
            try TemplateCommand.show(t, json: api.json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the tenant's templates.")
        @OptionGroup var api: APIOptions

        func run() async throws {
            let items = try await withAPI { try await api.client().listTemplates().ok.body.json.items }
            if api.json { try Output.json(items); return }
            Output.table(["NAME", "MODE", "ALLOW", "DENY", "PROFILES", "UPDATED"], items.map { t in
                [t.name, TemplateCommand.mode(t), String(t.allow_rules.count), String(t.deny_rules.count),
                 t.profiles.isEmpty ? "-" : t.profiles.joined(separator: ","), Output.time(t.updated_at)]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a template's mode, profiles and rules.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The template name.") var name: String

        func run() async throws {
            let t = try await withAPI(hint: { CommandHints.unknownTemplate($0, name) }) {
                try await api.client().getTemplate(path: .init(name: name)).ok.body.json
            }
            try TemplateCommand.show(t, json: api.json)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove a template (sandboxes created from it keep their copy).")
        @OptionGroup var api: APIOptions
        @Argument(help: "The template name.") var name: String

        func run() async throws {
            try await withAPI(hint: { CommandHints.unknownTemplate($0, name) }) {
                _ = try await api.client().deleteTemplate(path: .init(name: name)).noContent
            }
            print("removed template \(name)")
        }
    }

    static func mode(_ t: Schemas.Template) -> String {
        t.mode.map { $0.rawValue.isEmpty ? "(tenant)" : $0.rawValue } ?? "(tenant)"
    }

    static func show(_ t: Schemas.Template, json: Bool) throws {
        if json { try Output.json(t); return }
        print("template \(t.name): mode \(mode(t)), profiles \(t.profiles.isEmpty ? "-" : t.profiles.joined(separator: ","))")
        Output.table(["ID", "DECISION", "RESOURCES"], (t.allow_rules + t.deny_rules).map { [$0.id, $0.action.rawValue, $0.hostPort] })
    }
}

/// An exported policy file (`portcullis export`'s output), for `import` and `template create`.
enum ExportedPolicyFile {
    static func read(_ file: String) throws -> Schemas.ExportedPolicy {
        let data: Data
        do {
            data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw InputError("cannot read \(file): \(error.localizedDescription)")
        }
        // The server's own strict-input check, so the file is refused with the message the
        // API would give (an unknown field named, a duplicate key) before anything is sent.
        let shape = RequestShapes.body(method: "PUT", path: "/api/v1/sandboxes/{id}/network/policy") ?? .none
        do throws(StrictInputError) { try StrictBody.check([UInt8](data), against: shape) } catch { throw InputError(error.message) }
        do { return try JSONDecoder().decode(Schemas.ExportedPolicy.self, from: data) } catch {
            throw InputError("\(file) is not an exported policy (`portcullis export SANDBOX > \(file)` writes one): \(error)")
        }
    }
}
