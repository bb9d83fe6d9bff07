import ArgumentParser
import Foundation
import PortcullisAPI

/// `portcullis profile ls|show|attach|detach`.
struct ProfileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile", abstract: "Built-in and tenant profiles; attach one to a sandbox or detach it.",
        subcommands: [List.self, Show.self, Attach.self, Detach.self])

    /// Attach and detach: a profile and a sandbox.
    struct Attachment: ParsableArguments {
        @OptionGroup var api: APIOptions
        @Argument(help: "The profile name.") var name: String
        @Option(help: "The sandbox (default $PORTCULLIS_SANDBOX).") var sandbox: String?

        func change(attach: Bool) async throws {
            let env = ProcessInfo.processInfo.environment["PORTCULLIS_SANDBOX"]
            let p = try await withAPI(sandbox: sandbox ?? env) {
                guard let id = sandbox ?? env else { throw InputError("say which sandbox: --sandbox ID or PORTCULLIS_SANDBOX") }
                let client = try api.client()
                return attach ? try await client.attachProfile(path: .init(id: id, name: name)).ok.body.json
                    : try await client.detachProfile(path: .init(id: id, name: name)).ok.body.json
            }
            if api.json { try Output.json(p) } else {
                print("\(p.sandbox_id) profiles: \(p.profiles.isEmpty ? "none" : p.profiles.joined(separator: ", "))")
            }
        }
    }

    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Attach a profile to a sandbox (its rules apply at once).")
        @OptionGroup var attachment: Attachment
        func run() async throws { try await attachment.change(attach: true) }
    }

    struct Detach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Detach a profile from a sandbox.")
        @OptionGroup var attachment: Attachment
        func run() async throws { try await attachment.change(attach: false) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List profiles.")
        @OptionGroup var api: APIOptions
        func run() async throws {
            let items = try await withAPI { try await api.client().listProfiles().ok.body.json.items }
            if api.json { try Output.json(items); return }
            Output.table(["NAME", "KIND", "HOSTS", "DESCRIPTION"], items.map {
                [$0.name, $0.builtin ? "built-in" : "tenant", String($0.hosts.count), $0.description ?? ""]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a profile's rules.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The profile name.") var name: String
        func run() async throws {
            let p = try await withAPI { try await api.client().getProfile(path: .init(name: name)).ok.body.json }
            if api.json { try Output.json(p); return }
            print("\(p.name) (\(p.builtin ? "built-in, not removable" : "tenant")): \(p.description ?? "")")
            Output.table(["ID", "DECISION", "RESOURCES"], p.rules.map { [$0.id, $0.action.rawValue, $0.hostPort] })
        }
    }
}

/// `portcullis audit [--action reject] [--sandbox S] [--host H] [--since 7d] [--json]`.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Search the audit log, newest first.")
    @OptionGroup var api: APIOptions
    @Option(help: "allow, warn, reject or error.") var action: String?
    @Option(help: "Only this sandbox.") var sandbox: String?
    @Option(help: "Only this host.") var host: String?
    @Option(help: "A window such as 24h or 7d, or an RFC 3339 time.") var since: String?
    @Option(help: "How many entries (1-1000).") var limit = 100

    func run() async throws {
        let items = try await withAPI {
            var a: Schemas.AuditAction?
            if let action {
                guard let parsed = Schemas.AuditAction(rawValue: action) else { throw InputError("--action must be allow, warn, reject or error") }
                a = parsed
            }
            return try await api.client().listAudit(query: .init(sandbox: sandbox, action: a, host: host, since: since, limit: limit)).ok.body.json.items
        }
        if api.json { try Output.json(items); return }
        Output.table(["TIME", "SANDBOX", "VIA", "ACTION", "HOST", "PORT", "DECIDED BY", "STATUS"], items.map { e in
            [Output.time(e.time), e.sandbox_id ?? "-", e.via.rawValue, e.action.rawValue + (e.would_reject ? " (would reject)" : ""),
             TerminalText.clean(e.host) + Self.insideTLS(e), e.port.map(String.init) ?? "-",
             (e.rejected_by ?? e.rule_id ?? "-") + (e.credential.map { " [credential \(TerminalText.clean($0))]" } ?? ""),
             e.status.map(String.init) ?? "-"]
        })
    }
}

extension AuditCommand {
    /// A request seen inside terminated TLS: its method and path, and `[TLS]` (as `policy log` marks it).
    static func insideTLS(_ e: Components.Schemas.AuditEntry) -> String {
        guard e.terminated else { return "" }
        let request = [e.method, e.path].compactMap { $0.map(TerminalText.clean) }.joined(separator: " ")
        return (request.isEmpty ? "" : " " + request) + " [TLS]"
    }
}

/// `portcullis login --url URL --token KEY`: checks the key and stores both.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login", abstract: "Store the API URL and key for later commands (owner-only file).")
    @Option(help: "The API URL (default $PORTCULLIS_URL, else http://127.0.0.1:8080).") var url: String?
    @Option(help: "The API key (default $PORTCULLIS_TOKEN).") var token: String?

    func run() async throws {
        let connection = try await withAPI {
            let c = try Connection.resolve(url: url, token: token ?? ProcessInfo.processInfo.environment["PORTCULLIS_TOKEN"])
            _ = try await c.client().getTenantPolicy().ok
            return c
        }
        try Connection.store(url: connection.url, token: connection.token ?? "")
        print("logged in to \(connection.url.absoluteString); saved in \(Connection.credentialsPath.path)")
    }
}
