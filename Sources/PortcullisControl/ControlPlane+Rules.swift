import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// Validates a draft into a stored rule of `owner`, naming `field` in errors.
    func makeRule(_ draft: RuleDraft, owner: RuleOwner, position: Int, field: String, id: String? = nil) throws -> StoredRule {
        let source: RuleSource
        switch owner {
        case .sandbox, .template: source = .local
        case .tenant: source = .tenant
        case .profile(_, let name): source = .profile(name)
        }
        let rule: Rule
        do {
            rule = try draft.validate(id: id ?? Identifiers.rule(), source: source)
        } catch {
            throw ControlError.badRequest(field.isEmpty ? error.message : "\(field): \(error.message)")
        }
        if let refusal = inspectRefusal(rule, owner: owner) {
            throw ControlError.badRequest(field.isEmpty ? refusal : "\(field): \(refusal)")
        }
        return StoredRule(rule: rule, owner: owner, createdAt: now(), position: position)
    }

    /// Validates an exported policy's two lists into stored rules.
    func makeRules(allow: [RuleDraft]?, deny: [RuleDraft]?, owner: RuleOwner, field: String = "") throws -> [StoredRule] {
        var out: [StoredRule] = []
        let prefix = field.isEmpty ? "" : field + "."
        for (list, action) in [(allow ?? [], "allow"), (deny ?? [], "deny")] {
            guard list.count <= 10_000 else { throw ControlError.badRequest("\(prefix)\(action)_rules is limited to 10000 rules") }
            for (i, var draft) in list.enumerated() {
                let name = "\(prefix)\(action)_rules[\(i)]"
                if !draft.action.isEmpty, draft.action != action {
                    throw ControlError.badRequest("\(name): action \(Escape.quoted(draft.action)) does not belong in \(action)_rules")
                }
                draft.action = action
                out.append(try makeRule(draft, owner: owner, position: out.count, field: name))
            }
        }
        return out
    }

    /// Parses a mode, accepting the aliases.
    func parseMode(_ text: String, field: String = "mode") throws -> Mode {
        guard let mode = Mode(parsing: text) else {
            throw ControlError.badRequest("\(field) must be one of \(Mode.acceptedSpellings), not \(Escape.quoted(text))")
        }
        return mode
    }

    /// The own mode an exported policy sets: its `mode` (nil: follow the tenant), or nil
    /// too when the policy was read from one that followed its tenant and `mode` is this
    /// tenant's default anyway, so a policy sent back follows the tenant as the one read did.
    func ownMode(_ input: ExportedPolicyInput, tenantID: String) throws -> Mode? {
        guard let mode = try input.mode.map({ try parseMode($0) }) else { return nil }
        if input.followedTenant, mode == tenants[tenantID]?.defaultMode ?? .audit { return nil }
        return mode
    }

    /// Checks that every profile name exists for the tenant (404 otherwise) and dedupes.
    func checkProfiles(_ names: [String], tenantID: String) throws -> [String] {
        var out: [String] = []
        for name in names {
            guard profile(tenantID: tenantID, name: name) != nil else {
                throw ControlError.notFound("profile \(Escape.escaped(name)) not found")
            }
            if !out.contains(name) { out.append(name) }
        }
        return out
    }

    /// Whether two rules say the same thing (ignoring id, note and time).
    static func sameRule(_ a: Rule, _ b: Rule) -> Bool {
        a.action == b.action && a.host == b.host && a.port == b.port && a.transport == b.transport
            && a.methods == b.methods && a.paths == b.paths && a.warnOnly == b.warnOnly && a.except == b.except
            && a.inspect == b.inspect
    }

    /// A replacement's rules keep the id and creation time of an identical rule (same note
    /// too) that the layer already has, each old rule lending its id once, so a PUT that
    /// changes only the mode or the profiles does not renumber the rules people refer to.
    static func keepingIDs(_ new: [StoredRule], of existing: [StoredRule]) -> [StoredRule] {
        var unused = existing
        return new.map { r in
            guard let i = unused.firstIndex(where: { sameRule($0.rule, r.rule) && $0.rule.note == r.rule.note }) else { return r }
            var kept = r
            kept.rule.id = unused[i].rule.id
            kept.createdAt = unused[i].createdAt
            unused.remove(at: i)
            return kept
        }
    }

    /// Rules of a profile (built-in or tenant) as stored rules with their source.
    func storedRules(ofProfile name: String, tenantID: String) -> [StoredRule] {
        if let record = tenantProfiles[tenantID]?[name] { return record.rules }
        guard let builtin = BuiltinProfiles.named(name) else { return [] }
        return builtin.rules.enumerated().map { i, r in
            StoredRule(rule: r, owner: .profile(tenantID: tenantID, name: name), createdAt: builtinRuleTime, position: i)
        }
    }
}
