import ArgumentParser
import Foundation
import PortcullisAPI

extension PolicyCommand {
    /// `policy ls [SANDBOX]`: a sandbox's effective rules, or, without one, the tenant's view
    /// as sbx users know it: the built-in groups (the five `default-*` first) and every
    /// other profile, not removable and marked attached or not, then the tenant-wide rules.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List the policy groups and rules (of a sandbox, or tenant-wide).",
            discussion: """
                Without a sandbox: the tenant's default mode, every profile (the built-in groups first; \
                ATTACHED yes means the tenant attaches it to each new sandbox) and the tenant-wide rules. \
                With one: the rules that apply to it, its attached profiles' first.
                """)
        @OptionGroup var api: APIOptions
        @Argument(help: "A sandbox id; without it, the tenant-wide policy and the policy groups.") var sandbox: String?

        func run() async throws {
            try await withAPI(sandbox: sandbox) {
                let client = try api.client()
                if let sandbox {
                    let p = try await client.getSandboxPolicy(path: .init(id: sandbox)).ok.body.json
                    if api.json { try Output.json(p) } else {
                        Output.table(PolicyCommand.header, PolicyCommand.rows(p.effective.allow_rules + p.effective.deny_rules, underSandbox: true))
                    }
                    return
                }
                let listing = TenantListing(policy: try await client.getTenantPolicy().ok.body.json,
                                            profiles: try await client.listProfiles().ok.body.json.items)
                if api.json { print(try listing.json()) } else { listing.print() }
            }
        }
    }

    static let header = ["POLICY", "TYPE", "DECISION", "RESOURCES", "REMOVABLE"]

    /// One row per rule, grouped like sbx: profile rules under the profile's name (not
    /// removable here), local and tenant rules as `local:<id>` / `tenant:<id>`. Under a
    /// sandbox, a tenant rule is not removable there either: it says where it is removed.
    static func rows(_ rules: [Schemas.Rule], underSandbox: Bool) -> [[String]] {
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
}

/// The tenant-wide `policy ls`: mode, policy groups (profiles) and tenant rules.
struct TenantListing {
    /// One policy group as listed (and as `--json` writes it under `groups`).
    struct Group: Encodable {
        let name: String
        let builtin: Bool
        let removable: Bool
        /// Attached to each new sandbox (the tenant's `default_profiles`).
        let attached: Bool
        let description: String?
        let actions: [String]
        let hosts: [String]
    }

    let policy: Schemas.TenantPolicy
    let groups: [Group]

    init(policy: Schemas.TenantPolicy, profiles: [Schemas.Profile]) {
        self.policy = policy
        // sbx's five groups first, then the other built-ins, then the tenant's own; stable within each.
        func rank(_ p: Schemas.Profile) -> Int { p.builtin ? (p.name.hasPrefix("default-") ? 0 : 1) : 2 }
        let ordered = profiles.enumerated().sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }.map(\.element)
        groups = ordered.map { p in
            var actions: [String] = []
            for r in p.rules where !actions.contains(r.action.rawValue) { actions.append(r.action.rawValue) }
            return Group(name: p.name, builtin: p.builtin, removable: !p.builtin, attached: policy.default_profiles.contains(p.name),
                         description: p.description, actions: actions, hosts: p.hosts)
        }
    }

    static let header = ["POLICY", "TYPE", "DECISION", "RESOURCES", "REMOVABLE", "ATTACHED"]

    var rows: [[String]] {
        let groupRows = groups.map { g in
            let count = "\(g.hosts.count) host\(g.hosts.count == 1 ? "" : "s")"
            return [g.name, "network", g.actions.isEmpty ? "-" : g.actions.joined(separator: ","),
                    g.description.map { "\($0) (\(count))" } ?? count,
                    g.builtin ? "no (built-in)" : "yes (tenant profile)", g.attached ? "yes" : "no"]
        }
        let ruleRows = PolicyCommand.rows(policy.allow_rules + policy.deny_rules, underSandbox: false).map { $0 + ["-"] }
        return groupRows + ruleRows
    }

    func print() {
        Swift.print("tenant default mode: \(policy.default_mode.rawValue)")
        Output.table(Self.header, rows)
    }

    /// The tenant policy's own fields, plus `groups`.
    func json() throws -> String {
        guard var object = try JSONSerialization.jsonObject(with: Output.encoder.encode(policy)) as? [String: Any] else {
            throw InputError("the tenant policy did not encode as a JSON object")
        }
        object["groups"] = try JSONSerialization.jsonObject(with: Output.encoder.encode(groups))
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
