import PortcullisModel
import PortcullisPolicy

/// A rule as its text columns: what both stores keep, and what is re-validated on read.
struct RuleText: Hashable, Sendable {
    var id: String
    var action: String
    var host: String
    var port: Int?
    var transport: String
    var methods: [String]?
    var paths: [String]?
    var warnOnly: Bool
    var inspect: Bool?
    var except: [String]
    var note: String?

    init(_ rule: Rule) {
        id = rule.id
        action = rule.action.rawValue
        host = rule.host.description
        port = rule.port.map(Int.init)
        transport = rule.transport.rawValue
        methods = rule.methods
        paths = rule.paths?.map(\.description)
        warnOnly = rule.warnOnly
        inspect = rule.inspect
        except = rule.except.map(\.description)
        note = rule.note
    }

    init(id: String, action: String, host: String, port: Int?, transport: String, methods: [String]?,
         paths: [String]?, warnOnly: Bool, inspect: Bool?, except: [String], note: String?) {
        self.id = id
        self.action = action
        self.host = host
        self.port = port
        self.transport = transport
        self.methods = methods
        self.paths = paths
        self.warnOnly = warnOnly
        self.inspect = inspect
        self.except = except
        self.note = note
    }

    /// Validates the text back into a rule, exactly as operator input would be.
    func rule(source: RuleSource) throws(StoreError) -> Rule {
        let draft = RuleDraft(action: action, host: host, port: port, transport: transport, methods: methods,
                              paths: paths, warnOnly: action == RuleAction.allow.rawValue ? warnOnly : nil, inspect: inspect,
                              except: except.isEmpty ? nil : except, note: note)
        do {
            return try draft.validate(id: id, source: source)
        } catch {
            throw StoreError.corrupt("rule \(id): \(error.message)")
        }
    }
}

extension StoredRule {
    /// The rule as it reads back from a store: written as text and re-validated, with the
    /// source its owner implies. Both backends keep exactly this.
    func canonical() throws(StoreError) -> StoredRule {
        let rule = try RuleText(self.rule).rule(source: owner.ruleSource)
        return StoredRule(rule: rule, owner: owner, createdAt: createdAt, position: position)
    }

    /// The order rules read back in, within one owner.
    static func positionOrder(_ a: StoredRule, _ b: StoredRule) -> Bool {
        if a.position != b.position { return a.position < b.position }
        if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
        return a.rule.id < b.rule.id
    }
}
