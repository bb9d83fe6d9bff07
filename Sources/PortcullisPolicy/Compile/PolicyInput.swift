/// Everything one sandbox's policy is made of, before compilation: the layers of
/// POLICY-MODEL.md ("effective rules = built-in and tenant profiles attached + tenant-wide
/// rules + the sandbox's attached profiles + its local rules") and the mode override.
public struct PolicyLayers: Sendable {
    public var tenantDefaultMode: Mode
    /// The sandbox's own mode; nil follows the tenant.
    public var sandboxMode: Mode?
    public var localRules: [Rule]
    public var sandboxProfiles: [Profile]
    public var tenantRules: [Rule]
    public var tenantProfiles: [Profile]

    public init(tenantDefaultMode: Mode = .audit, sandboxMode: Mode? = nil, localRules: [Rule] = [],
                sandboxProfiles: [Profile] = [], tenantRules: [Rule] = [], tenantProfiles: [Profile] = []) {
        self.tenantDefaultMode = tenantDefaultMode
        self.sandboxMode = sandboxMode
        self.localRules = localRules
        self.sandboxProfiles = sandboxProfiles
        self.tenantRules = tenantRules
        self.tenantProfiles = tenantProfiles
    }

    /// The effective mode: the sandbox's own, else the tenant's.
    public var effectiveMode: Mode { sandboxMode ?? tenantDefaultMode }

    /// Every effective rule, each with its `source`, in tie-break order (local first, then
    /// the sandbox's profiles, tenant-wide rules, tenant profiles). A profile attached at
    /// both levels counts once.
    public var effectiveRules: [Rule] {
        var out: [Rule] = localRules.map { var r = $0; r.source = .local; return r }
        var seen = Set<String>()
        func add(_ profile: Profile) {
            guard seen.insert(profile.name).inserted else { return }
            out += profile.rules.map { var r = $0; r.source = .profile(profile.name); return r }
        }
        sandboxProfiles.forEach(add)
        out += tenantRules.map { var r = $0; r.source = .tenant; return r }
        tenantProfiles.forEach(add)
        return out
    }
}
