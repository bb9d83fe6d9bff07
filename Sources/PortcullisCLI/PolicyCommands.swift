import ArgumentParser
import Foundation
import OpenAPIRuntime
import PortcullisAPI

typealias Schemas = Components.Schemas

/// `portcullis policy ls|allow|deny|rm|log`, as the sbx CLI has them.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "List, add and remove network rules; watch a sandbox's connections live.",
        subcommands: [List.self, Allow.self, Deny.self, Remove.self, Log.self])

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

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the policy groups and rules (of a sandbox, or tenant-wide).")
        @OptionGroup var api: APIOptions
        @Argument(help: "A sandbox id; without it, the tenant-wide policy.") var sandbox: String?

        func run() async throws {
            let rows: [[String]] = try await withAPI {
                let client = try api.client()
                if let sandbox {
                    let p = try await client.getSandboxPolicy(path: .init(id: sandbox)).ok.body.json
                    if api.json { try Output.json(p); return [] }
                    return PolicyCommand.rows(p.effective.allow_rules + p.effective.deny_rules, mode: p.mode.rawValue, underSandbox: true)
                }
                let t = try await client.getTenantPolicy().ok.body.json
                if api.json { try Output.json(t); return [] }
                var rules = t.allow_rules + t.deny_rules
                for name in t.default_profiles {
                    rules += try await client.getProfile(path: .init(name: name)).ok.body.json.rules
                }
                return PolicyCommand.rows(rules, mode: t.default_mode.rawValue, underSandbox: false)
            }
            if !api.json { Output.table(["POLICY", "TYPE", "DECISION", "RESOURCES", "REMOVABLE"], rows) }
        }
    }

    /// One row per rule, grouped like sbx: profile rules under the profile's name (not
    /// removable here), local and tenant rules as `local:<id>` / `tenant:<id>`. Under a
    /// sandbox, a tenant rule is not removable there either: it says where it is removed.
    static func rows(_ rules: [Schemas.Rule], mode: String, underSandbox: Bool) -> [[String]] {
        let ordered = rules.sorted { a, b in
            let pa = a.source.hasPrefix("profile:"), pb = b.source.hasPrefix("profile:")
            if pa != pb { return pa }
            return a.source < b.source
        }
        return ordered.map { r in
            let decision = r.action.rawValue + (r.warn_only ? " (warn)" : "")
                + (r.inspect.map { $0 ? " (inspect)" : " (no inspect)" } ?? "")
            var resources = r.hostPort
            if let m = r.methods { resources += " " + m.joined(separator: ",") }
            if let p = r.paths { resources += " " + p.joined(separator: ",") }
            if !r.except.isEmpty { resources += " except " + r.except.joined(separator: ",") }
            if r.source.hasPrefix("profile:") {
                return [String(r.source.dropFirst("profile:".count)), "network", decision, resources, "no (profile)"]
            }
            if underSandbox && r.source == "tenant" {
                return ["\(r.source):\(r.id)", "network", decision, resources, "no (tenant-wide: policy rm network --id \(r.id) --tenant)"]
            }
            return ["\(r.source):\(r.id)", "network", decision, resources, "yes"]
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
            let removedFrom: String = try await withAPI {
                let client = try api.client()
                if tenant {
                    _ = try await client.deleteTenantRule(path: .init(rule_id: ruleID)).noContent
                    return "the tenant"
                }
                if let sandbox {
                    _ = try await client.deleteSandboxRule(path: .init(id: sandbox, rule_id: ruleID)).noContent
                    return sandbox
                }
                let tenant = try await client.getTenantPolicy().ok.body.json
                if (tenant.allow_rules + tenant.deny_rules).contains(where: { $0.id == ruleID }) {
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
                            throw InputError("rule \(ruleID) belongs to \(r.source) and cannot be removed (default policies cannot be removed)")
                        }
                    }
                    cursor = page.next_cursor
                } while cursor != nil
                throw InputError("no rule \(ruleID) in the tenant or any sandbox")
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
        return word.padding(toLength: 9, withPad: " ", startingAt: 0) + " " + shown.padding(toLength: max(24, shown.count), withPad: " ", startingAt: 0)
            + " " + (action == "reject" ? "-" : status)
    }
}

enum TerminalText {
    /// Control characters never reach the terminal.
    static func clean(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    }
}
