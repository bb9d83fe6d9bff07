import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// `GET …/network/pending`. An entry a rule now decides (one added since, by lockdown,
    /// Allow on another entry, a tenant rule or an attached profile) is no longer waiting
    /// for an operator: it is removed here, as the queue is read.
    public func pending(_ caller: Caller, id: String) async throws -> [PendingEntry] {
        _ = try sandbox(caller, id)
        let entries = try await store.pending(sandboxID: id)
        guard let policy = compiled[id]?.policy else { return entries }
        var waiting: [PendingEntry] = []
        for entry in entries {
            if Self.ruleDecides(entry, policy) {
                _ = try await store.removePending(sandboxID: id, id: entry.id)
            } else {
                waiting.append(entry)
            }
        }
        return waiting
    }

    /// Whether a rule of `policy` decides `entry`'s host and port at the name stage (allows
    /// it, perhaps for some requests only, or denies it).
    static func ruleDecides(_ entry: PendingEntry, _ policy: CompiledPolicy) -> Bool {
        guard let host = try? HostParser.parseTarget(entry.host) else { return false }
        return policy.decide(Target(host: host, port: entry.port)).rule != nil
    }

    /// `POST …/network/pending/{pending_id}/allow|block`: an exact rule for the entry's host
    /// and port (to the sandbox, or tenant-wide), then the entry is removed.
    public func resolvePending(_ caller: Caller, id: String, pendingID: String, action: RuleAction, tenantWide: Bool) async throws -> (entry: PendingEntry, rule: StoredRule) {
        let s = try sandbox(caller, id)
        guard let entry = try await pending(caller, id: id).first(where: { $0.id == pendingID }) else {
            throw ControlError.notFound("pending entry not found")
        }
        let owner: RuleOwner = tenantWide ? .tenant(s.tenantID) : .sandbox(id)
        let existing = rules[owner] ?? []
        let draft = RuleDraft(action: action.rawValue, host: entry.host, port: entry.port.map(Int.init), note: "from the pending queue")
        var rule = try makeRule(draft, owner: owner, position: (existing.map(\.position).max() ?? -1) + 1, field: "")
        var isNew = true
        if let same = existing.first(where: { Self.sameRule($0.rule, rule.rule) }) {
            rule = same
            isNew = false
        }
        let store = self.store, added = rule, addNew = isNew
        let writes: @Sendable () async throws -> Void = {
            if addNew { try await store.addRule(added) }
            _ = try await store.removePending(sandboxID: id, id: pendingID)
        }
        if tenantWide {
            try await commit(.tenant(s.tenantID), writes)
        } else {
            _ = try await saveSandbox(s, also: writes)
        }
        return (entry, rule)
    }

    /// Called by the audit writer for each rejection that joins the pending queue. Returns
    /// how many older entries were dropped to make room (for `portcullis_pending_evicted_total`).
    @discardableResult
    public func recordPending(sandboxID: String, host: String, port: UInt16?, at time: Timestamp) async throws -> Int {
        guard sandboxes[sandboxID] != nil else { return 0 }
        return try await store.addPending(sandboxID: sandboxID, host: host, port: port, at: time, capacity: pendingCapacity).evicted
    }

    /// `GET …/network/suggestions?since=7d`, with the allow rule that already covers each
    /// host, if one does.
    public func suggestions(_ caller: Caller, id: String, since window: String) async throws -> SuggestionsView {
        let s = try sandbox(caller, id)
        guard let w = TimeWindow(parsing: window) else {
            throw ControlError.badRequest("since must be a window such as 7d, 24h or 30m, not \(Escape.quoted(window))")
        }
        let tallies = try await store.tally(tenantID: caller.tenantID, sandboxID: id, since: now().adding(milliseconds: -w.milliseconds))
        let report = Suggestions.compute(tallies)
        let allows = policyView(s).effectiveAllow.map(\.rule)
        var allowedBy: [String: String] = [:]
        for item in report.items {
            guard let host = try? HostParser.parseTarget(item.host) else { continue }
            let exact: HostPattern
            switch host {
            case .name(let n): exact = .exact(n)
            case .address(let a): exact = .address(a)
            }
            // The rule for exactly this host if there is one, else the first that covers it.
            let covering = allows.filter { $0.host.covers(host) }
            if let rule = covering.first(where: { $0.host == exact }) ?? covering.first { allowedBy[item.host] = rule.id }
        }
        return SuggestionsView(report: report, allowedBy: allowedBy)
    }

    /// `GET /api/v1/audit`, scoped to the caller's tenant.
    public func audit(_ caller: Caller, _ query: AuditQuery) async throws -> AuditPage {
        var q = query
        q.tenantID = caller.tenantID
        guard (1...1000).contains(q.limit) else { throw ControlError.badRequest("limit must be between 1 and 1000") }
        if let a = q.action, !["allow", "warn", "reject", "error"].contains(a) {
            throw ControlError.badRequest("action must be allow, warn, reject or error, not \(Escape.quoted(a))")
        }
        return try await store.query(q)
    }
}
