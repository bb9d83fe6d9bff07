import ArgumentParser
import Foundation
import PortcullisAPI

/// `portcullis lockdown SANDBOX [--from-suggestions 7d | --hosts … | --yes]`.
struct LockdownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lockdown", abstract: "Switch a sandbox to allowlist (enforce), keeping its rules.",
        discussion: """
            On a terminal, without --hosts or --from-suggestions, lists the hosts seen in the last 7 days \
            with checkboxes to confirm. Without a terminal, give --hosts, --from-suggestions, or --yes to \
            lock down with the rules as they are (every host no allow rule covers is then rejected).
            """)
    @OptionGroup var api: APIOptions
    @Argument(help: "The sandbox id.") var sandbox: String
    @Option(name: .customLong("from-suggestions"), help: "Allow every host suggested in this window (e.g. 7d) except those recommended deny.")
    var fromSuggestions: String?
    @Option(help: "Allow exactly these hosts (comma-separated).") var hosts: String?
    @Flag(help: "Do not ask; lock down with the rules as they are.") var yes = false

    func run() async throws {
        let policy = try await withAPI(sandbox: sandbox) {
            let window = try fromSuggestions.map { try CommandHints.window($0, flag: "--from-suggestions") }
            let client = try api.client()
            var chosen = hosts.map { $0.split(separator: ",").map(String.init) }
            if chosen == nil && window == nil && !yes {
                guard isatty(0) != 0 else {
                    let current = try await client.getSandboxPolicy(path: .init(id: sandbox)).ok.body.json
                    throw InputError(Self.refusal(sandbox: sandbox, allowRules: current.effective.allow_rules.count))
                }
                let s = try await Output.progress("reading suggestions") {
                    try await client.getSuggestions(path: .init(id: sandbox), query: .init(since: "7d")).ok.body.json
                }
                chosen = try Checkboxes.confirm(s.items)
            }
            let body = Schemas.LockdownRequest(hosts: chosen, from_suggestions: window)
            return try await client.lockdownSandbox(path: .init(id: sandbox), body: .json(body)).ok.body.json
        }
        if api.json { try Output.json(policy) } else {
            print("\(sandbox) is now \(policy.mode.rawValue); \(policy.allow_rules.count) allow and \(policy.deny_rules.count) deny rules of its own")
        }
    }

    /// Why a lockdown with no host list and no terminal to ask on is refused, and what would
    /// have happened.
    static func refusal(sandbox: String, allowRules: Int) -> String {
        let covered = allowRules == 0 ? "no allow rule, so every host would be rejected"
            : "\(allowRules) allow rule\(allowRules == 1 ? "" : "s"), and every host none of them covers would be rejected"
        return "not locking down \(sandbox) without a terminal to confirm on: it has \(covered). "
            + "Give --hosts a,b, --from-suggestions 7d, or --yes to lock down with the rules as they are"
    }
}

/// The Lock Down confirmation on a terminal: every host with a checkbox, deny-recommended
/// ones unchecked; the operator toggles by number and confirms with Enter. A host an allow
/// rule already covers is shown as `[=] … already allowed by rul_…` and cannot be checked:
/// lockdown never adds a rule broader than the one it has.
enum Checkboxes {
    static func confirm(_ items: [Schemas.Suggestion]) throws -> [String] {
        var checked = initial(items)
        while true {
            print("Hosts contacted in the last 7 days (toggle with their numbers, Enter to confirm, q to cancel):")
            for line in lines(items, checked: checked) { print(line) }
            print("> ", terminator: "")
            guard let line = readLine() else { throw InputError("lockdown cancelled") }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return zip(items, checked).filter { $0.1 }.map { $0.0.host } }
            if trimmed == "q" { throw InputError("lockdown cancelled") }
            toggle(trimmed, items: items, checked: &checked)
        }
    }

    /// Checked at first: hosts not recommended deny and not already allowed.
    static func initial(_ items: [Schemas.Suggestion]) -> [Bool] {
        items.map { $0.recommendation != .deny && $0.allowed_by == nil }
    }

    static func lines(_ items: [Schemas.Suggestion], checked: [Bool]) -> [String] {
        items.enumerated().map { i, s in
            let box = s.allowed_by != nil ? "[=]" : checked[i] ? "[x]" : "[ ]"
            let why = s.allowed_by.map { "already allowed by \($0)" } ?? "\(s.recommendation.rawValue): \(s.reason)"
            return " \(i + 1). \(box) \(TerminalText.clean(s.host))  \(s.count) requests  \(why)"
        }
    }

    /// Toggles the numbered hosts of `answer` (spaces or commas between numbers); hosts
    /// already allowed stay unchecked.
    static func toggle(_ answer: String, items: [Schemas.Suggestion], checked: inout [Bool]) {
        for token in answer.split(whereSeparator: { $0 == " " || $0 == "," }) {
            if let n = Int(token), (1...items.count).contains(n), items[n - 1].allowed_by == nil { checked[n - 1].toggle() }
        }
    }
}

/// `portcullis observe SANDBOX`.
struct ObserveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "observe", abstract: "Switch a sandbox back to audit (observe), keeping its rules.")
    @OptionGroup var api: APIOptions
    @Argument(help: "The sandbox id.") var sandbox: String

    func run() async throws {
        let p = try await withAPI(sandbox: sandbox) { try await api.client().observeSandbox(path: .init(id: sandbox)).ok.body.json }
        if api.json { try Output.json(p) } else { print("\(sandbox) is now \(p.mode.rawValue); its \(p.allow_rules.count + p.deny_rules.count) rules are kept") }
    }
}

/// `portcullis pending [SANDBOX]`, `pending allow|block ID [--sandbox S] [--tenant]`.
struct PendingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pending", abstract: "The hosts blocked in allowlist mode, waiting for Allow or Block.",
        subcommands: [List.self, Allow.self, Block.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List pending requests.")
        @OptionGroup var api: APIOptions
        @Argument(help: "A sandbox id; without it, every sandbox's queue.") var sandbox: String?

        func run() async throws {
            let rows: [(String, Schemas.Pending)] = try await withAPI {
                let client = try api.client()
                var ids: [String]
                if let sandbox { ids = [sandbox] } else { ids = try await client.listSandboxes(query: .init(limit: 1000)).ok.body.json.items.map(\.id) }
                var out: [(String, Schemas.Pending)] = []
                for id in ids { out += try await client.listPending(path: .init(id: id)).ok.body.json.items.map { (id, $0) } }
                return out
            }
            if api.json { try Output.json(rows.map(\.1)); return }
            Output.table(["ID", "SANDBOX", "HOST", "COUNT", "FIRST SEEN", "LAST SEEN"], rows.map { sid, p in
                [p.id, sid, p.host + (p.port.map { ":\($0)" } ?? ""), String(p.count), Output.time(p.first_seen), Output.time(p.last_seen)]
            })
        }
    }

    static func resolve(_ api: APIOptions, id: String, sandbox: String?, tenant: Bool, allow: Bool) async throws {
        let r = try await withAPI {
            let client = try api.client()
            var sid = sandbox
            // Pending ids are unique per entry, so the one sandbox holding it is the one found.
            var cursor: String?
            search: while sid == nil {
                let page = try await client.listSandboxes(query: .init(limit: 1000, cursor: cursor)).ok.body.json
                for s in page.items where try await client.listPending(path: .init(id: s.id), query: .init(limit: 1000)).ok.body.json.items
                    .contains(where: { $0.id == id }) {
                    sid = s.id
                    break search
                }
                guard let next = page.next_cursor else { break }
                cursor = next
            }
            guard let sid else { throw InputError("no pending entry \(id) in any sandbox") }
            let body = Schemas.PendingResolution(scope: tenant ? .tenant : .sandbox)
            let resolved = allow
                ? try await client.allowPending(path: .init(id: sid, pending_id: id), body: .json(body)).ok.body.json
                : try await client.blockPending(path: .init(id: sid, pending_id: id), body: .json(body)).ok.body.json
            return (sandbox: sid, resolved: resolved)
        }
        if api.json { try Output.json(r.resolved) } else {
            let port = r.resolved.pending.port.map { ":\($0)" } ?? ""
            print("\(allow ? "allowed" : "blocked") \(r.resolved.pending.host)\(port) for sandbox \(r.sandbox): added \(r.resolved.rule.source) rule \(r.resolved.rule.id)")
        }
    }

    /// What Allow and Block both take.
    struct Resolution: ParsableArguments {
        @OptionGroup var api: APIOptions
        @Argument(help: "The pending id (pnd_…).") var id: String
        @Option(help: "The sandbox (found automatically when left out).") var sandbox: String?
        @Flag(help: "Make the rule tenant-wide.") var tenant = false

        func resolve(allow: Bool) async throws {
            try await PendingCommand.resolve(api, id: id, sandbox: sandbox, tenant: tenant, allow: allow)
        }
    }

    struct Allow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allow a pending host (adds an exact allow rule).")
        @OptionGroup var resolution: Resolution
        func run() async throws { try await resolution.resolve(allow: true) }
    }

    struct Block: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Block a pending host (adds an exact deny rule).")
        @OptionGroup var resolution: Resolution
        func run() async throws { try await resolution.resolve(allow: false) }
    }
}

/// `portcullis suggestions SANDBOX --since 7d`.
struct SuggestionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "suggestions", abstract: "Hosts contacted, with counts and recommendations.")
    @OptionGroup var api: APIOptions
    @Argument(help: "The sandbox id.") var sandbox: String
    @Option(help: "The window (e.g. 24h, 7d, 30d).") var since = "7d"

    func run() async throws {
        let s = try await withAPI(sandbox: sandbox) {
            let window = try CommandHints.window(since, flag: "--since")
            return try await Output.progress("computing suggestions") {
                try await api.client().getSuggestions(path: .init(id: sandbox), query: .init(since: window)).ok.body.json
            }
        }
        if api.json { try Output.json(s); return }
        print("HOSTS CONTACTED IN THE LAST \(since.uppercased())")
        Output.table(["HOST", "REQUESTS", "PORTS", "RECOMMENDATION", "REASON"], s.items.map {
            [$0.host, String($0.count), $0.ports.map(String.init).joined(separator: ","), $0.recommendation.rawValue, $0.reason]
        })
        for w in s.wildcards { print("proposed wildcard \(w.pattern) covers \(w.covers.joined(separator: ", ")) (\(w.count) requests)") }
    }
}

/// `portcullis explain SANDBOX HOST[:PORT]`.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain", abstract: "The decision the gateway would take now (nothing is logged).",
        discussion: """
            Exit status:
              0  allowed or warned (in audit mode also when it would reject once enforced)
              1  rejected
              2  bad input (message on stderr)
              3  the API cannot be reached
              4  the API refused the call (unknown sandbox, bad key, …; message on stderr)
            """)
    @OptionGroup var api: APIOptions
    @Argument(help: "The sandbox id.") var sandbox: String
    @Argument(help: "HOST[:PORT]") var target: String
    @Option(help: "HTTP method, for endpoint rules.") var method: String?
    @Option(help: "HTTP path, for endpoint rules.") var path: String?
    @Option(help: "An address the name resolves to (repeatable).") var resolved: [String] = []

    func run() async throws {
        let e = try await withAPI(refused: .apiRefused, sandbox: sandbox) {
            let (host, port) = try HostPort.split(target)
            let body = Schemas.ExplainRequest(host: host, port: port, method: method, path: path,
                                              resolved: resolved.isEmpty ? nil : .IPAddressList(resolved))
            return try await api.client().explainDecision(path: .init(id: sandbox), body: .json(body)).ok.body.json
        }
        if api.json { try Output.json(e) } else {
            print("\(e.action.rawValue.uppercased())\(e.would_reject ? " (would reject when enforced)" : "")  \(e.host)  [\(e.stage.rawValue) stage, \(e.rejected_by ?? e.rule_id ?? "mode:\(e.mode.rawValue)")]")
            print(e.reason)
            // Whether TLS to the host would be terminated, and why; a refused connection opens
            // nothing, so it gets the line only when it is refused inside terminated TLS.
            if e.action != .reject || e.terminated {
                print("TLS \(e.terminated ? "terminated" : "not terminated"): \(e.termination_reason)")
            }
        }
        if e.action == .reject { throw ExitCode(CLIExit.rejected.rawValue) }
    }
}

/// `portcullis export SANDBOX > policy.json`.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Print a sandbox's policy (mode, rules, profiles) as JSON.")
    @OptionGroup var api: APIOptions
    @Argument(help: "The sandbox id.") var sandbox: String

    func run() async throws {
        let p = try await withAPI(sandbox: sandbox) { try await api.client().getSandboxPolicy(path: .init(id: sandbox)).ok.body.json }
        try Output.json(p.exported)
    }
}

/// `portcullis import SANDBOX policy.json`.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Replace a sandbox's policy with an exported one.")
    @OptionGroup var api: APIOptions
    @Argument(help: "The sandbox id.") var sandbox: String
    @Argument(help: "The exported policy file (- for standard input).") var file: String

    func run() async throws {
        let p = try await withAPI(sandbox: sandbox) {
            let exported = try ExportedPolicyFile.read(file)
            return try await api.client().replaceSandboxPolicy(path: .init(id: sandbox), body: .json(exported)).ok.body.json
        }
        if api.json { try Output.json(p) } else { print("imported into \(sandbox): mode \(p.mode.rawValue), \(p.allow_rules.count) allow, \(p.deny_rules.count) deny, profiles \(p.profiles.joined(separator: ","))") }
    }
}
