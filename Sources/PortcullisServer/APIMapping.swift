import Foundation
import PortcullisAPI
import PortcullisControl
import PortcullisModel
import PortcullisPolicy

typealias Schemas = Components.Schemas

/// Conversions between the control plane's values and the generated API types.
enum APIMapping {
    static func date(_ t: Timestamp) -> Date { Date(timeIntervalSince1970: Double(t.milliseconds) / 1000) }

    static func timestamp(_ d: Date) -> Timestamp { Timestamp(milliseconds: Int64((d.timeIntervalSince1970 * 1000).rounded())) }

    static func mode(_ m: Mode) -> Schemas.Mode { Schemas.Mode(rawValue: m.rawValue)! }

    static func ownMode(_ m: Mode?) -> Schemas.OwnMode? { m.flatMap { Schemas.OwnMode(rawValue: $0.rawValue) } }

    static func rule(_ s: StoredRule) -> Schemas.Rule {
        let r = s.rule
        return Schemas.Rule(
            id: r.id, action: r.action == .allow ? .allow : .deny, host: r.host.description, port: r.port.map(Int.init),
            _protocol: Schemas.RuleProtocol(rawValue: r.transport.rawValue) ?? .any, methods: r.methods,
            paths: r.paths?.map(\.description), warn_only: r.warnOnly, inspect: r.inspect, except: r.except.map(\.description),
            note: r.note,
            source: r.source.description, created_at: date(s.createdAt))
    }

    static func draft(_ r: Schemas.RuleInput, action: String? = nil) -> RuleDraft {
        RuleDraft(action: action ?? r.action?.rawValue ?? "", host: r.host, port: r.port, transport: r._protocol?.rawValue,
                  methods: r.methods, paths: r.paths, warnOnly: r.warn_only, inspect: r.inspect, except: r.except, note: r.note)
    }

    static func draft(_ r: Schemas.NewRule) -> RuleDraft {
        RuleDraft(action: r.action.rawValue, host: r.host, port: r.port, transport: r._protocol?.rawValue,
                  methods: r.methods, paths: r.paths, warnOnly: r.warn_only, inspect: r.inspect, except: r.except, note: r.note)
    }

    static func sandbox(_ v: SandboxView) -> Schemas.Sandbox {
        let s = v.record
        let user = s.id, password = s.proxyToken
        return Schemas.Sandbox(
            id: s.id, name: s.name, mode: mode(v.mode), own_mode: ownMode(s.ownMode), profiles: s.profiles,
            source_addresses: s.sourceAddresses, created_at: date(s.createdAt), updated_at: date(s.updatedAt),
            proxy: Schemas.ProxySettings(
                http_url: "http://\(user):\(password)@\(v.proxy.host):\(v.proxy.httpPort)",
                socks_url: "socks5h://\(user):\(password)@\(v.proxy.host):\(v.proxy.socksPort)",
                host: v.proxy.host, http_port: v.proxy.httpPort, socks_port: v.proxy.socksPort, username: user, password: password))
    }

    static func policy(_ v: SandboxPolicyView) -> Schemas.SandboxPolicy {
        Schemas.SandboxPolicy(
            sandbox_id: v.sandboxID, mode: mode(v.mode), own_mode: ownMode(v.ownMode), allow_rules: v.allowRules.map(rule),
            deny_rules: v.denyRules.map(rule), profiles: v.profiles, policy_version: Int64(v.policyVersion), updated_at: date(v.updatedAt),
            effective: Schemas.EffectivePolicy(mode: mode(v.mode), allow_rules: v.effectiveAllow.map(rule), deny_rules: v.effectiveDeny.map(rule)))
    }

    static func tenantPolicy(_ v: TenantPolicyView) -> Schemas.TenantPolicy {
        Schemas.TenantPolicy(tenant_id: v.tenantID, default_mode: mode(v.defaultMode), default_profiles: v.defaultProfiles,
                             allow_rules: v.allowRules.map(rule), deny_rules: v.denyRules.map(rule),
                             policy_version: Int64(v.policyVersion), updated_at: date(v.updatedAt))
    }

    static func pending(_ e: PendingEntry) -> Schemas.Pending {
        Schemas.Pending(id: e.id, host: e.host, port: e.port.map(Int.init), count: Int64(e.count),
                        first_seen: date(e.firstSeen), last_seen: date(e.lastSeen))
    }

    static func profile(_ p: ProfileView) -> Schemas.Profile {
        Schemas.Profile(name: p.name, builtin: p.builtin, description: p.description, rules: p.rules.map(rule),
                        hosts: p.rules.map(\.rule.host.description))
    }

    static func template(_ t: TemplateRecord) -> Schemas.Template {
        Schemas.Template(name: t.name, mode: ownMode(t.mode), allow_rules: t.rules.filter { $0.rule.action == .allow }.map(rule),
                         deny_rules: t.rules.filter { $0.rule.action == .deny }.map(rule), profiles: t.profiles,
                         created_at: date(t.createdAt), updated_at: date(t.updatedAt))
    }

    static func explanation(_ v: ExplainView) -> Schemas.Explanation {
        let d = v.decision
        return Schemas.Explanation(
            action: Schemas.Verdict(rawValue: d.verdict.rawValue)!, would_reject: d.wouldReject, rule_id: d.ruleID,
            rejected_by: d.rejectedBy, stage: .init(rawValue: d.stage.rawValue)!, reason: d.reason, mode: mode(d.mode),
            policy_version: Int64(d.policyVersion), host: d.host.description, address: v.address?.description,
            terminated: v.termination.terminated, termination_reason: v.termination.reason)
    }

    static func suggestions(_ v: SuggestionsView, since: String) -> Schemas.Suggestions {
        let r = v.report
        return Schemas.Suggestions(
            since: since,
            items: r.items.map { s in
                Schemas.Suggestion(host: s.host, ports: s.ports.map(Int.init), count: Int64(s.count),
                                   recommendation: .init(rawValue: s.recommendation.rawValue)!, reason: s.reason,
                                   allowed_by: v.allowedBy[s.host])
            },
            wildcards: r.wildcards.map { Schemas.WildcardSuggestion(pattern: $0.pattern, covers: $0.covers, count: Int64($0.count)) })
    }

    static func audit(_ e: AuditEvent) -> Schemas.AuditEntry {
        Schemas.AuditEntry(
            id: e.id ?? "", time: date(e.time), tenant_id: e.tenantID ?? "", sandbox_id: e.sandboxID, client: e.client,
            via: .init(rawValue: e.via.rawValue) ?? .http, host: e.host, sni: e.sni, address: e.address, port: e.port,
            _protocol: .init(rawValue: e.transport) ?? .tcp, method: e.method, path: e.path,
            action: Schemas.AuditAction(rawValue: e.action.rawValue) ?? .error, would_reject: e.wouldReject, rule_id: e.ruleID,
            rejected_by: e.rejectedBy, reason: e.reason, status: e.status, bytes_up: e.bytesUp, bytes_down: e.bytesDown,
            duration_ms: e.durationMs, policy_version: Int64(e.policyVersion), terminated: e.terminated, credential: e.credential)
    }

    static func computer(_ v: CompatPolicyView) -> Schemas.ComputerPolicyEnvelope {
        Schemas.ComputerPolicyEnvelope(data: Schemas.ComputerPolicy(
            computer_id: v.computerID, mode: mode(v.mode),
            rules: v.rules.map { s in
                Schemas.ComputerRule(host: s.rule.host.description, port: s.rule.port.map(Int.init),
                                     _protocol: Schemas.RuleProtocol(rawValue: s.rule.transport.rawValue))
            },
            updated_at: date(v.updatedAt)))
    }
}
