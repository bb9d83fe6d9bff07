import PortcullisModel
import PortcullisPolicy

extension InMemoryStore {
    /// Everything a policy change may write, to put back when its writes throw.
    struct Saved {
        let tenants: [String: TenantRecord]
        let sandboxes: [String: SandboxRecord]
        let addresses: [String: String]
        let rules: [OwnerColumns: [StoredRule]]
        let profiles: [NameKey: ProfileRecord]
        let pending: [String: [String: PendingEntry]]
        let credentials: [String: CredentialRecord]
        let attachments: [CredentialAttachment]
    }

    public func commitPolicyChange(_ scope: PolicyChangeScope, _ writes: @Sendable () async throws -> Void) async throws -> UInt64 {
        // One change at a time, as the database's row lock on the version would have it.
        await changeLock.acquire()
        do {
            let v = try await commitLocked(scope, writes)
            await changeLock.release()
            return v
        } catch {
            await changeLock.release()
            throw error
        }
    }

    private func commitLocked(_ scope: PolicyChangeScope, _ writes: @Sendable () async throws -> Void) async throws -> UInt64 {
        let saved = Saved(tenants: tenantsByID, sandboxes: sandboxesByID, addresses: addressOwner, rules: rulesByOwner,
                          profiles: profilesByKey, pending: pendingBySandbox,
                          credentials: credentialsByID, attachments: attachmentsList)
        do {
            try await writes()
        } catch {
            tenantsByID = saved.tenants
            sandboxesByID = saved.sandboxes
            addressOwner = saved.addresses
            rulesByOwner = saved.rules
            profilesByKey = saved.profiles
            pendingBySandbox = saved.pending
            credentialsByID = saved.credentials
            attachmentsList = saved.attachments
            throw error
        }
        version += 1
        changes.append(PolicyChange(version: version, scope: scope, time: clock()))
        return version
    }

    public func policyChanges(after version: UInt64, limit: Int) async throws -> PolicyChangeLog {
        let oldest = changes.first?.version
        let list = changes.filter { $0.version > version }.prefix(max(1, limit))
        return PolicyChangeLog(changes: Array(list), newestVersion: self.version,
                               incomplete: version < self.version && (oldest.map { version < $0 } ?? true))
    }

    public func pruneChanges(before cutoff: Timestamp) async throws -> Int {
        guard let newest = changes.last?.version else { return 0 }
        let before = changes.count
        changes.removeAll { $0.time < cutoff && $0.version < newest }
        return before - changes.count
    }

    public func saveNode(_ node: NodeRecord) async throws {
        var n = node
        n.heartbeatAt = clock()
        if let old = nodesByID[node.id], old.startedAt == node.startedAt {
            n.appliedPolicyVersion = max(old.appliedPolicyVersion, node.appliedPolicyVersion)
        }
        nodesByID[node.id] = n
    }

    public func recordApplied(nodeID: String, version: UInt64) async throws {
        guard var n = nodesByID[nodeID], n.appliedPolicyVersion < version else { return }
        n.appliedPolicyVersion = version
        nodesByID[nodeID] = n
    }

    public func nodes() async throws -> NodeListing {
        NodeListing(nodes: nodesByID.values.sorted { $0.id < $1.id }, now: clock(), newestPolicyVersion: version)
    }

    public func auditTail(after number: Int64, limit: Int) async throws -> [AuditTailRow] {
        audit.lazy.filter { $0.number > number }.prefix(max(1, limit)).map { AuditTailRow(number: $0.number, node: nil, event: $0.event) }
    }

    public func newestAuditNumber() async throws -> Int64 { lastAuditNumber }
}
