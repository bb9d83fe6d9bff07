import PortcullisModel
import PortcullisPolicy

/// Records and rules the contract tests build on.
enum Fixture {
    static let t0 = Timestamp(milliseconds: 1_700_000_000_000)

    static func tenant(_ id: String = "ten_a", name: String? = nil) -> TenantRecord {
        TenantRecord(id: id, name: name ?? "tenant-\(id)", defaultMode: .allowlist, defaultProfiles: ["pypi", "github"],
                     createdAt: t0, updatedAt: t0.adding(milliseconds: 5))
    }

    static func sandbox(_ id: String, tenant: String = "ten_a", addresses: [String] = []) -> SandboxRecord {
        SandboxRecord(id: id, tenantID: tenant, name: "box \(id)", ownMode: .denylist, profiles: ["npm", "openai"],
                      sourceAddresses: addresses, proxyToken: "tok-\(id)", createdAt: t0, updatedAt: t0.adding(milliseconds: 1))
    }

    static func rule(_ id: String, _ draft: RuleDraft, owner: RuleOwner, position: Int,
                     source: RuleSource = .local) throws -> StoredRule {
        StoredRule(rule: try draft.validate(id: id, source: source), owner: owner,
                   createdAt: t0.adding(milliseconds: Int64(position)), position: position)
    }

    /// Rules that between them set every field.
    static func richRules(owner: RuleOwner) throws -> [StoredRule] {
        [
            try rule("rul_1", RuleDraft(action: "allow", host: "API.OpenAI.com.", port: 443, transport: "tcp",
                                        methods: ["get", "POST"], paths: ["/v1/*", "/health"], warnOnly: true,
                                        note: "LLM calls"), owner: owner, position: 0),
            try rule("rul_2", RuleDraft(action: "deny", host: "*.corp.example", transport: "any",
                                        except: ["jira.corp.example", "*.wiki.corp.example"], note: nil),
                     owner: owner, position: 1),
            try rule("rul_3", RuleDraft(action: "allow", host: "10.0.0.0/8", port: 53, transport: "udp", inspect: false),
                     owner: owner, position: 2),
            try rule("rul_4", RuleDraft(action: "deny", host: "2001:db8::1"), owner: owner, position: 3),
            try rule("rul_5", RuleDraft(action: "allow", host: "*.pythonhosted.org", warnOnly: false, inspect: true,
                                        note: "ünïcødé note"), owner: owner, position: 4),
        ]
    }

    static func event(_ n: Int, tenant: String = "ten_a", sandbox: String = "sbx_1", action: AuditAction = .allow,
                      host: String = "example.com", port: Int? = 443, time: Timestamp? = nil) -> AuditEvent {
        AuditEvent(time: time ?? t0.adding(milliseconds: Int64(n)), tenantID: tenant, sandboxID: sandbox,
                   client: "127.0.0.1:\(40000 + n % 20000)", via: .connect, host: host, sni: host,
                   address: "93.184.216.34", port: port, transport: "tcp", method: "GET", path: "/p/\(n)",
                   action: action, wouldReject: n % 2 == 0, ruleID: "rul_\(n % 7)",
                   rejectedBy: action == .reject ? "default-deny" : nil, reason: "reason \(n)", status: 200,
                   bytesUp: Int64(n) * 10, bytesDown: Int64(n) * 100, durationMs: Int64(n % 1000), policyVersion: 42)
    }
}
