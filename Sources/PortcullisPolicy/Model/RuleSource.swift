/// Where a rule comes from; the API writes it as `local`, `tenant` or `profile:<name>`.
public enum RuleSource: Hashable, Sendable, CustomStringConvertible {
    /// The sandbox's own rules.
    case local
    /// Tenant-wide rules.
    case tenant
    /// A profile's rules (built-in or the tenant's).
    case profile(String)

    public init?(parsing text: String) {
        switch text {
        case "local": self = .local
        case "tenant": self = .tenant
        default:
            guard text.hasPrefix("profile:"), text.count > "profile:".count else { return nil }
            self = .profile(String(text.dropFirst("profile:".count)))
        }
    }

    public var description: String {
        switch self {
        case .local: return "local"
        case .tenant: return "tenant"
        case .profile(let name): return "profile:" + name
        }
    }
}
