import PortcullisModel
import PortcullisPolicy

extension InMemoryStore {
    public func createSandbox(_ sandbox: SandboxRecord, rules: [StoredRule]) async throws {
        guard tenantsByID[sandbox.tenantID] != nil else { throw StoreError.unknownTenant(sandbox.tenantID) }
        guard sandboxesByID[sandbox.id] == nil else { throw StoreError.exists("sandbox", sandbox.id) }
        try checkAddresses(sandbox)
        let owner = RuleOwner.sandbox(sandbox.id)
        let stored = try canonicalRules(rules, of: owner)
        sandboxesByID[sandbox.id] = sandbox
        for address in sandbox.sourceAddresses { addressOwner[address] = sandbox.id }
        if !stored.isEmpty { rulesByOwner[OwnerColumns(owner)] = stored }
    }

    public func sandbox(id: String) async throws -> SandboxRecord? { sandboxesByID[id] }

    public func sandboxes(tenantID: String, after cursor: String?, limit: Int) async throws -> [SandboxRecord] {
        let matching = sandboxesByID.values.filter { s in s.tenantID == tenantID && (cursor.map { s.id > $0 } ?? true) }
        return Array(matching.sorted { $0.id < $1.id }.prefix(max(0, limit)))
    }

    public func allSandboxes() async throws -> [SandboxRecord] { sandboxesByID.values.sorted { $0.id < $1.id } }

    public func updateSandbox(_ sandbox: SandboxRecord) async throws -> Bool {
        guard let old = sandboxesByID[sandbox.id] else { return false }
        if old.tenantID != sandbox.tenantID, tenantsByID[sandbox.tenantID] == nil {
            throw StoreError.unknownTenant(sandbox.tenantID)
        }
        try checkAddresses(sandbox)
        for address in old.sourceAddresses { addressOwner[address] = nil }
        for address in sandbox.sourceAddresses { addressOwner[address] = sandbox.id }
        var updated = sandbox
        // As in SQL: the CA is written at creation (or by setCertificateAuthority), never here.
        updated.certificateAuthority = old.certificateAuthority
        sandboxesByID[sandbox.id] = updated
        return true
    }

    public func deleteSandbox(id: String) async throws -> Bool {
        guard let old = sandboxesByID.removeValue(forKey: id) else { return false }
        for address in old.sourceAddresses { addressOwner[address] = nil }
        rulesByOwner[OwnerColumns(.sandbox(id))] = nil
        pendingBySandbox[id] = nil
        attachmentsList.removeAll { $0.sandboxID == id }
        return true
    }

    /// Throws when an address is listed twice or belongs to another sandbox.
    func checkAddresses(_ sandbox: SandboxRecord) throws(StoreError) {
        var seen: Set<String> = []
        for address in sandbox.sourceAddresses {
            guard seen.insert(address).inserted else { throw StoreError.addressListedTwice(address) }
            if let owner = addressOwner[address], owner != sandbox.id {
                throw StoreError.addressTaken(address)
            }
        }
    }
}
