import PortcullisAPI
import PortcullisControl
import PortcullisPolicy

/// Policy bodies that may be a GET answer sent back (API.md: "replace from an exported
/// policy"): the sandbox and tenant policy PUTs and the template POST/PUT. The fields only
/// answers have are accepted by the document and not used here, with two exceptions:
/// a rule's `source` must be the target's own kind (a rule of another layer is refused,
/// never copied silently), and `own_mode: null` lets the target keep following its tenant.
extension APIMapping {
    /// The rules of one list (`allow_rules` / `deny_rules`) as drafts, refusing a rule whose
    /// `source` is not `own` (`local` for a sandbox policy or template, `tenant` for the
    /// tenant policy).
    static func drafts(_ rules: [Schemas.RuleInput]?, list: String, own: String) throws -> [RuleDraft]? {
        guard let rules else { return nil }
        return try rules.enumerated().map { i, r in
            if let source = r.source, source != own {
                throw ControlError.badRequest(
                    "\(list)[\(i)].source is \(Escape.quoted(source)), not \(Escape.quoted(own)): this body takes only the policy's own rules "
                        + "(a profile's rules come with its name in \"profiles\", the tenant's with PUT /api/v1/network/policy); "
                        + "leave \"source\" out to copy the rule as one of this policy's own")
            }
            return draft(r)
        }
    }

    /// An exported policy, from the fields every such body has. `mode` is applied (left
    /// out: a non-null `own_mode`, else follow the tenant); `own_mode` given as null marks a
    /// policy read from one that followed its tenant.
    static func exported(mode: Schemas.ModeInput?, ownMode: Schemas.ModeInput?, allow: [Schemas.RuleInput]?, deny: [Schemas.RuleInput]?,
                         profiles: [String]?) throws -> ExportedPolicyInput {
        ExportedPolicyInput(mode: (mode ?? ownMode)?.rawValue, allowRules: try drafts(allow, list: "allow_rules", own: "local"),
                            denyRules: try drafts(deny, list: "deny_rules", own: "local"), profiles: profiles,
                            followedTenant: RequestBodyNulls.fields.contains("own_mode"))
    }

    static func exported(_ p: Schemas.ExportedPolicy) throws -> ExportedPolicyInput {
        try exported(mode: p.mode, ownMode: p.own_mode, allow: p.allow_rules, deny: p.deny_rules, profiles: p.profiles)
    }

    static func exported(_ p: Schemas.TemplateCreate) throws -> ExportedPolicyInput {
        try exported(mode: p.mode, ownMode: p.own_mode, allow: p.allow_rules, deny: p.deny_rules, profiles: p.profiles)
    }

    /// A template PUT: `name`, when given, must be the template's own (the path's).
    static func exported(_ p: Schemas.TemplateReplace, name: String) throws -> ExportedPolicyInput {
        if let given = p.name, given != name {
            throw ControlError.badRequest("name: a template keeps its name; this is \(Escape.quoted(name)), not \(Escape.quoted(given)) "
                                          + "(create a new one to rename)")
        }
        return try exported(mode: p.mode, ownMode: p.own_mode, allow: p.allow_rules, deny: p.deny_rules, profiles: p.profiles)
    }

    /// The tenant policy PUT's input; its rules' `source`, when given, must be `tenant`.
    static func tenantPolicy(_ b: Schemas.TenantPolicyInput) throws -> TenantPolicyInput {
        TenantPolicyInput(defaultMode: b.default_mode?.rawValue, defaultProfiles: b.default_profiles,
                          allowRules: try drafts(b.allow_rules, list: "allow_rules", own: "tenant"),
                          denyRules: try drafts(b.deny_rules, list: "deny_rules", own: "tenant"))
    }
}
