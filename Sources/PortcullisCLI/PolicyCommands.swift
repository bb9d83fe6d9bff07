import ArgumentParser
import Foundation
import OpenAPIRuntime
import PortcullisAPI

typealias Schemas = Components.Schemas

/// `portcullis policy ls|allow|deny|rm|log`, as the sbx CLI has them, and `policy mode`.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "List, add and remove network rules; watch a sandbox's connections live.",
        subcommands: [List.self, Allow.self, Deny.self, Remove.self, SetMode.self, Log.self])

    /// Which rules a change goes to: one sandbox, or tenant-wide.
    struct Scope: ParsableArguments {
        @Option(help: "The sandbox (default $PORTCULLIS_SANDBOX).") var sandbox: String?
        @Flag(help: "Apply to every sandbox of the tenant.") var tenant = false

        func sandboxID() throws -> String? {
            if tenant { return nil }
            guard let id = sandbox ?? ProcessInfo.processInfo.environment["PORTCULLIS_SANDBOX"] else {
                throw InputError("say which sandbox (--sandbox ID or PORTCULLIS_SANDBOX), or --tenant for every sandbox")
            }
            return id
        }
    }

    static func add(_ api: APIOptions, _ scope: Scope, action: Schemas.RuleAction, target: String, warnOnly: Bool,
                    methods: [String], paths: [String], inspect: Bool? = nil, except: [String]) async throws -> Schemas.Rule {
        try await withAPI {
            let (host, port) = try HostPort.split(target)
            let rule = Schemas.NewRule(action: action, host: host, port: port, methods: methods.isEmpty ? nil : methods,
                                       paths: paths.isEmpty ? nil : paths, warn_only: warnOnly ? true : nil, inspect: inspect,
                                       except: except.isEmpty ? nil : except)
            let client = try api.client()
            if let id = try scope.sandboxID() {
                return try await client.addSandboxRule(path: .init(id: id), body: .json(rule)).created.body.json
            }
            return try await client.addTenantRule(body: .json(rule)).created.body.json
        }
    }

    /// What a new deny rule does in the mode it lands in, when that is not "rejects": in audit
    /// mode it is only logged (`would_reject`) until lockdown; unrestricted keeps rules unapplied.
    static func denyNote(_ api: APIOptions, _ scope: Scope) async throws -> String? {
        let client = try api.client()
        if let id = try scope.sandboxID() {
            let mode = try await client.getSandboxPolicy(path: .init(id: id)).ok.body.json.mode
            return denyNote(mode: mode, subject: "\(id) is", lockdown: "`portcullis lockdown \(id)`")
        }
        let mode = try await client.getTenantPolicy().ok.body.json.default_mode
        return denyNote(mode: mode, subject: "the tenant's default mode (which sandboxes without their own mode follow) is",
                        lockdown: "`portcullis policy mode allowlist --tenant`")
    }

    static func denyNote(mode: Schemas.Mode, subject: String, lockdown: String) -> String? {
        switch mode {
        case .audit:
            "note: \(subject) in audit mode: this deny rule is only logged (would_reject), nothing is blocked until \(lockdown)"
        case .unrestricted:
            "note: \(subject) unrestricted: rules are kept but not applied, so this deny rule blocks nothing until the mode changes"
        case .allowlist, .denylist, .isolated:
            nil
        }
    }

    static func printAdded(_ r: Schemas.Rule, json: Bool) throws {
        if json { try Output.json(r) } else { print("\(r.source):\(r.id)   network   \(r.action.rawValue)   \(r.hostPort)") }
    }

    struct Allow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allow a host: policy allow network HOST[:PORT].")
        @OptionGroup var api: APIOptions
        @OptionGroup var scope: Scope
        @Argument(help: "network") var kind: String
        @Argument(help: "HOST[:PORT]: a name, *.wildcard, IP or CIDR.") var target: String
        @Flag(name: .customLong("warn-only"), help: "Allow, but flag each use in the audit log.") var warnOnly = false
        @Option(help: "Only these HTTP methods (comma-separated).") var methods: String?
        @Option(help: "Only these paths (comma-separated; a prefix ends in /*).") var paths: String?
        @Flag(inversion: .prefixedNo,
              help: "Terminate TLS to this host (--inspect) or never (--no-inspect); left out, the gateway decides (methods, paths and credentials need it).")
        var inspect: Bool?

        func validate() throws {
            guard kind == "network" else { throw ValidationError("only network rules exist: policy allow network HOST[:PORT]") }
        }

        func run() async throws {
            let r = try await PolicyCommand.add(api, scope, action: .allow, target: target, warnOnly: warnOnly,
                                                methods: methods.map { $0.split(separator: ",").map(String.init) } ?? [],
                                                paths: paths.map { $0.split(separator: ",").map(String.init) } ?? [],
                                                inspect: inspect, except: [])
            try PolicyCommand.printAdded(r, json: api.json)
        }
    }

    struct Deny: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deny a host: policy deny network HOST[:PORT].")
        @OptionGroup var api: APIOptions
        @OptionGroup var scope: Scope
        @Argument(help: "network") var kind: String
        @Argument(help: "HOST[:PORT]: a name, *.wildcard, IP or CIDR.") var target: String
        @Option(name: .customLong("except"), help: "A host the deny does not cover (repeatable).") var except: [String] = []

        func validate() throws {
            guard kind == "network" else { throw ValidationError("only network rules exist: policy deny network HOST[:PORT]") }
        }

        func run() async throws {
            let r = try await PolicyCommand.add(api, scope, action: .deny, target: target, warnOnly: false, methods: [], paths: [], except: except)
            try PolicyCommand.printAdded(r, json: api.json)
            let note = try await withAPI { try await PolicyCommand.denyNote(api, scope) }
            if let note { printError(note) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a rule: policy rm network --id ID.")
        @OptionGroup var api: APIOptions
        @Argument(help: "network") var kind: String
        @Option(help: "The rule id (with or without its local:/tenant: prefix).") var id: String
        @Option(help: "The sandbox the rule belongs to (found automatically when left out).") var sandbox: String?
        @Flag(help: "The rule is tenant-wide (it applies to every sandbox of the tenant).") var tenant = false

        func validate() throws {
            guard kind == "network" else { throw ValidationError("only network rules exist: policy rm network --id ID") }
            if tenant && sandbox != nil { throw ValidationError("give --tenant or --sandbox, not both") }
        }

        func run() async throws {
            var ruleID = id
            for prefix in ["local:", "tenant:"] where ruleID.hasPrefix(prefix) { ruleID = String(ruleID.dropFirst(prefix.count)) }
            let removedFrom: String = try await withAPI(sandbox: sandbox) {
                let client = try api.client()
                if tenant {
                    _ = try await client.deleteTenantRule(path: .init(rule_id: ruleID)).noContent
                    return "the tenant"
                }
                if let sandbox {
                    let p = try await client.getSandboxPolicy(path: .init(id: sandbox)).ok.body.json
                    if !(p.allow_rules + p.deny_rules).contains(where: { $0.id == ruleID }),
                       let r = (p.effective.allow_rules + p.effective.deny_rules).first(where: { $0.id == ruleID }) {
                        throw APIFailure(status: 409, message: CommandHints.foreignRule(ruleID, source: r.source, sandbox: sandbox))
                    }
                    _ = try await client.deleteSandboxRule(path: .init(id: sandbox, rule_id: ruleID)).noContent
                    return sandbox
                }
                let tenantPolicy = try await client.getTenantPolicy().ok.body.json
                if (tenantPolicy.allow_rules + tenantPolicy.deny_rules).contains(where: { $0.id == ruleID }) {
                    _ = try await client.deleteTenantRule(path: .init(rule_id: ruleID)).noContent
                    return "the tenant"
                }
                var cursor: String?
                repeat {
                    let page = try await client.listSandboxes(query: .init(limit: 1000, cursor: cursor)).ok.body.json
                    for s in page.items {
                        let p = try await client.getSandboxPolicy(path: .init(id: s.id)).ok.body.json
                        if (p.allow_rules + p.deny_rules).contains(where: { $0.id == ruleID }) {
                            _ = try await client.deleteSandboxRule(path: .init(id: s.id, rule_id: ruleID)).noContent
                            return s.id
                        }
                        if let r = (p.effective.allow_rules + p.effective.deny_rules).first(where: { $0.id == ruleID }), r.source.hasPrefix("profile:") {
                            throw APIFailure(status: 409, message: CommandHints.foreignRule(ruleID, source: r.source, sandbox: s.id))
                        }
                    }
                    cursor = page.next_cursor
                } while cursor != nil
                throw InputError("no rule \(ruleID) in the tenant or any sandbox (`portcullis policy ls [SANDBOX]` lists rule ids)")
            }
            print("removed \(ruleID) from \(removedFrom)")
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a sandbox's connections live (ALLOWED / WARN / BLOCKED) until interrupted.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The sandbox id.") var sandbox: String

        func run() async throws {
            try await withAPI {
                let client = try api.client()
                _ = try await client.getSandbox(path: .init(id: sandbox)).ok
                let body = try await client.streamAudit(query: .init(sandbox: sandbox)).ok.body.text_event_hyphen_stream
                var line: [UInt8] = []
                for try await chunk in body {
                    for byte in chunk {
                        if byte == UInt8(ascii: "\n") {
                            if let out = PolicyCommand.logLine(String(decoding: line, as: UTF8.self), json: api.json) {
                                FileHandle.standardOutput.write(Data((out + "\n").utf8))
                            }
                            line.removeAll(keepingCapacity: true)
                        } else if line.count < 1 << 20 {
                            line.append(byte)
                        }
                    }
                }
            }
        }
    }

    /// `ALLOWED host status`, `WARN host status`, `BLOCKED host -` for one SSE `data:` line.
    static func logLine(_ sse: String, json: Bool) -> String? {
        guard sse.hasPrefix("data: ") else { return nil }
        let payload = String(sse.dropFirst(6))
        if json { return payload }
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any],
              let host = object["host"] as? String, let action = object["action"] as? String else { return nil }
        let status = (object["status"] as? Int).map(String.init) ?? "-"
        let word: String
        switch action {
        case "allow": word = "ALLOWED"
        case "warn": word = "WARN"
        case "reject": word = "BLOCKED"
        default: word = "ERROR"
        }
        let shown = TerminalText.clean(host)
        var line = word.padding(toLength: 9, withPad: " ", startingAt: 0) + " " + shown.padding(toLength: max(24, shown.count), withPad: " ", startingAt: 0)
            + " " + (action == "reject" ? "-" : status)
        // Inside terminated TLS the request itself is known; a credential is named, never shown.
        if object["terminated"] as? Bool == true {
            if let method = object["method"] as? String, let path = object["path"] as? String {
                line += "  " + TerminalText.clean(method) + " " + TerminalText.clean(path)
            }
            line += "  [terminated]"
        }
        if let credential = object["credential"] as? String {
            let marker = (object["rejected_by"] as? String).map { $0.hasPrefix("credential-") ? $0 : "credential" } ?? "credential"
            line += "  [\(marker) \(TerminalText.clean(credential))]"
        }
        return line
    }
}

enum TerminalText {
    /// Control characters never reach the terminal.
    static func clean(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    }
}
