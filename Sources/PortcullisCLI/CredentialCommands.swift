import ArgumentParser
import Foundation
import OpenAPIRuntime
import PortcullisAPI
import PortcullisRunner

/// `portcullis credential set|ls|rm|attach|detach` (INSPECTION.md, "CLI and runner"). A value
/// is read from an environment variable, a file or stdin, never from an argument (which
/// every user of the machine can read in the process list).
struct CredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential", abstract: "Secrets sandboxes use without holding them.",
        discussion: """
            A credential is bound to an HTTPS host (and port, methods, path prefix) and placed in one
            header, the Basic password or one query parameter. A sandbox it is attached to holds a
            placeholder (pcx_…); the gateway puts the value in its place on the bound host only.

              portcullis credential set openai --host api.openai.com --header Authorization \\
                  --format 'Bearer {secret}' --value-from-env OPENAI_API_KEY
              portcullis credential attach sbx_… openai --env OPENAI_API_KEY
            """,
        subcommands: [SetCredential.self, List.self, Remove.self, Attach.self, Detach.self])

    typealias Schemas = Components.Schemas

    struct SetCredential: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Create a credential, or replace one (a value source rotates its value; without one the value stays).")
        @OptionGroup var api: APIOptions
        @Argument(help: "The credential's name.") var name: String
        @Option(help: "The host it is bound to: an exact name or *.example.com.") var host: String
        @Option(help: "The port (default 443).") var port: Int?
        @Option(help: "Only these HTTP methods (comma-separated).") var methods: String?
        @Option(name: .customLong("path-prefix"), help: "Only paths under this prefix (e.g. /v1).") var pathPrefix: String?
        @Option(help: "Place the secret in this header.") var header: String?
        @Option(help: "With --header: the header's value, containing {secret} once (default {secret}).") var format: String?
        @Flag(help: "Place the secret as the password of Authorization: Basic (the username is kept).") var basic = false
        @Option(help: "Place the secret as the value of this query parameter.") var query: String?
        @Option(name: .customLong("value-from-env"), help: "Read the value from this environment variable.") var valueFromEnv: String?
        @Option(name: .customLong("value-file"), help: "Read the value from this file (one trailing newline dropped).") var valueFile: String?
        @Flag(name: .customLong("value-stdin"), help: "Read the value from standard input (one trailing newline dropped).") var valueStdin = false
        @Flag(help: "Refuse requests to the binding that carry no placeholder.") var require = false

        func validate() throws {
            let placements = [header != nil, basic, query != nil].filter { $0 }.count
            guard placements == 1 else { throw ValidationError("give one placement: --header NAME, --basic or --query NAME") }
            if format != nil && header == nil { throw ValidationError("--format goes with --header") }
            let sources = [valueFromEnv != nil, valueFile != nil, valueStdin].filter { $0 }.count
            guard sources <= 1 else { throw ValidationError("give the value one way: --value-from-env VAR, --value-file FILE or --value-stdin") }
        }

        func run() async throws {
            let value = try await withAPI { try readValue() }
            let binding = Schemas.CredentialBindingInput(host: host, port: port, methods: methods.map { $0.split(separator: ",").map(String.init) },
                                                         path_prefix: pathPrefix)
            let placement: Schemas.CredentialPlacementInput
            if let header {
                placement = .init(kind: .header, name: header, format: format)
            } else if let query {
                placement = .init(kind: .query, name: query)
            } else {
                placement = .init(kind: .basic)
            }
            let (credential, created) = try await withAPI {
                let client = try api.client()
                let exists: Bool
                do {
                    _ = try await client.getCredential(path: .init(name: name)).ok
                    exists = true
                } catch let e as ClientError where (e.underlyingError as? APIFailure)?.status == 404 {
                    exists = false
                }
                if exists {
                    let body = Schemas.CredentialReplace(name: name, value: value, binding: binding, placement: placement, require: require)
                    return (try await client.replaceCredential(path: .init(name: name), body: .json(body)).ok.body.json, false)
                }
                guard let value else {
                    throw InputError("credential \(name) does not exist yet: give its value with --value-from-env VAR, --value-file FILE or --value-stdin")
                }
                let body = Schemas.CredentialCreate(name: name, value: value, binding: binding, placement: placement, require: require)
                return (try await client.createCredential(body: .json(body)).created.body.json, true)
            }
            if api.json {
                try Output.json(credential)
            } else {
                let what = created ? "created" : (value == nil ? "updated (value kept)" : "updated (value rotated; placeholders unchanged)")
                print("\(what) credential \(credential.name) for \(CredentialCommand.describe(credential.binding))")
            }
        }

        /// The value from the one source given, or nil when none is.
        func readValue() throws -> String? {
            if let variable = valueFromEnv {
                guard let v = ProcessInfo.processInfo.environment[variable], !v.isEmpty else {
                    throw InputError("--value-from-env: the environment variable \(variable) is not set or is empty")
                }
                return v
            }
            if let path = valueFile {
                guard let handle = FileHandle(forReadingAtPath: path) else { throw InputError("--value-file: cannot read \(path)") }
                defer { try? handle.close() }
                return try CredentialCommand.value(from: handle, source: "--value-file \(path)")
            }
            if valueStdin { return try CredentialCommand.value(from: FileHandle.standardInput, source: "--value-stdin") }
            return nil
        }
    }

    /// A value read from a file or stdin: at most 8192 bytes (as the API takes), one trailing
    /// newline (LF or CRLF) dropped, never empty.
    static func value(from handle: FileHandle, source: String) throws -> String {
        let limit = 8192
        var data = Data()
        while data.count <= limit + 2, let chunk = try? handle.read(upToCount: limit + 3 - data.count), !chunk.isEmpty { data += chunk }
        if data.last == 0x0A { data.removeLast(); if data.last == 0x0D { data.removeLast() } }
        guard data.count <= limit else { throw InputError("\(source): a value is at most \(limit) bytes") }
        guard !data.isEmpty else { throw InputError("\(source): the value is empty") }
        guard let text = String(data: data, encoding: .utf8) else { throw InputError("\(source): the value is not UTF-8 text") }
        return text
    }

    static func describe(_ b: Schemas.CredentialBinding) -> String {
        var out = "https://\(b.host)" + (b.port == 443 ? "" : ":\(b.port)") + (b.path_prefix ?? "")
        if let m = b.methods { out += " (" + m.joined(separator: ",") + ")" }
        return out
    }

    static func describe(_ p: Schemas.CredentialPlacement) -> String {
        switch p.kind {
        case .header: return "header \(p.name ?? "?"): \(p.format ?? "{secret}")"
        case .basic: return "basic password"
        case .query: return "query \(p.name ?? "?")"
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List credentials (never their values), or a sandbox's with its placeholders.")
        @OptionGroup var api: APIOptions
        @Option(help: "List the credentials attached to this sandbox, with their placeholders.") var sandbox: String?

        func run() async throws {
            if let sandbox {
                let items = try await withAPI { try await api.client().listSandboxCredentials(path: .init(id: sandbox)).ok.body.json.items }
                if api.json { return try Output.json(items) }
                Output.table(["NAME", "PLACEHOLDER", "BINDING"], items.map { [$0.name, $0.placeholder, CredentialCommand.describe($0.binding)] })
                return
            }
            let items = try await withAPI { try await api.client().listCredentials().ok.body.json.items }
            if api.json { return try Output.json(items) }
            Output.table(["NAME", "BINDING", "PLACEMENT", "REQUIRE", "ROTATED"], items.map { c in
                [c.name, CredentialCommand.describe(c.binding), CredentialCommand.describe(c.placement), c.require ? "yes" : "no",
                 c.rotated_at.map(Output.time) ?? "-"]
            })
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a credential (detached from every sandbox).")
        @OptionGroup var api: APIOptions
        @Argument(help: "The credential's name.") var name: String

        func run() async throws {
            try await withAPI { _ = try await api.client().deleteCredential(path: .init(name: name)).noContent }
            print("removed credential \(name)")
        }
    }

    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Attach a credential to a sandbox and print its placeholder as an export line.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The sandbox id.") var sandbox: String
        @Argument(help: "The credential's name.") var name: String
        @Option(help: "The variable to export the placeholder as (default: the name in upper case).") var env: String?

        func validate() throws {
            if let env, let why = CredentialVariables.refusal(env) { throw ValidationError("--env: \(why)") }
        }

        func run() async throws {
            let a = try await withAPI { try await api.client().attachCredential(path: .init(id: sandbox, name: name)).ok.body.json }
            if api.json { return try Output.json(a) }
            print(CredentialVariables.exportLine(variable: env ?? CredentialVariables.defaultName(for: a.name), placeholder: a.placeholder))
        }
    }

    struct Detach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Detach a credential from a sandbox; its placeholder is revoked at once.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The sandbox id.") var sandbox: String
        @Argument(help: "The credential's name.") var name: String

        func run() async throws {
            try await withAPI { _ = try await api.client().detachCredential(path: .init(id: sandbox, name: name)).noContent }
            print("detached credential \(name) from \(sandbox)")
        }
    }
}
