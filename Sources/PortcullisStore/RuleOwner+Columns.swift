import PortcullisModel
import PortcullisPolicy

/// How a rule's owner is written in the `rules` table: a kind, a tenant (empty for a
/// sandbox, whose id is unique on its own) and a key (empty for tenant-wide rules).
struct OwnerColumns: Hashable, Sendable, Comparable {
    let kind: String
    let tenant: String
    let key: String

    init(kind: String, tenant: String, key: String) {
        self.kind = kind
        self.tenant = tenant
        self.key = key
    }

    init(_ owner: RuleOwner) {
        switch owner {
        case .sandbox(let id): self.init(kind: "sandbox", tenant: "", key: id)
        case .tenant(let id): self.init(kind: "tenant", tenant: id, key: "")
        case .profile(let tenantID, let name): self.init(kind: "profile", tenant: tenantID, key: name)
        case .template(let tenantID, let name): self.init(kind: "template", tenant: tenantID, key: name)
        }
    }

    /// The owner these columns name; throws on a kind this version does not know.
    func owner() throws(StoreError) -> RuleOwner {
        switch kind {
        case "sandbox": return .sandbox(key)
        case "tenant": return .tenant(tenant)
        case "profile": return .profile(tenantID: tenant, name: key)
        case "template": return .template(tenantID: tenant, name: key)
        default: throw StoreError.corrupt("rule owner kind \(kind)")
        }
    }

    static func < (a: OwnerColumns, b: OwnerColumns) -> Bool {
        (a.kind, a.tenant, a.key) < (b.kind, b.tenant, b.key)
    }
}

extension RuleOwner {
    /// The source a rule of this owner reports: sandbox and template rules are `local`
    /// (a template's rules become a sandbox's local rules), tenant-wide ones `tenant`,
    /// a profile's `profile:<name>`.
    var ruleSource: RuleSource {
        switch self {
        case .sandbox: return .local
        case .tenant: return .tenant
        case .profile(_, let name): return .profile(name)
        case .template: return .local
        }
    }
}
