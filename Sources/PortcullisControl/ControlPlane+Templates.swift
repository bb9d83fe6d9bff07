import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    static func validateTemplateName(_ name: String) throws {
        guard (1...128).contains(name.utf8.count), name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw ControlError.badRequest("template name must be 1-128 printable ASCII characters without spaces or /")
        }
    }

    func templateRecord(_ caller: Caller, name: String, _ input: ExportedPolicyInput, createdAt: Timestamp?) throws -> TemplateRecord {
        let owner = RuleOwner.template(tenantID: caller.tenantID, name: name)
        let t = now()
        return TemplateRecord(tenantID: caller.tenantID, name: name, mode: try input.mode.map { try parseMode($0) },
                              rules: try makeRules(allow: input.allowRules, deny: input.denyRules, owner: owner),
                              profiles: try checkProfiles(input.profiles ?? [], tenantID: caller.tenantID),
                              createdAt: createdAt ?? t, updatedAt: t)
    }

    public func listTemplates(_ caller: Caller) async throws -> [TemplateRecord] {
        try await store.templates(tenantID: caller.tenantID).sorted { $0.name < $1.name }
    }

    public func getTemplate(_ caller: Caller, name: String) async throws -> TemplateRecord {
        guard let t = try await store.template(tenantID: caller.tenantID, name: name) else {
            throw ControlError.notFound("template \(Escape.escaped(name)) not found")
        }
        return t
    }

    public func createTemplate(_ caller: Caller, name: String, _ input: ExportedPolicyInput) async throws -> TemplateRecord {
        try Self.validateTemplateName(name)
        let record = try templateRecord(caller, name: name, input, createdAt: nil)
        do { try await store.createTemplate(record) } catch let e as StoreError where e.kind == .conflict {
            throw ControlError.conflict("template \(name) already exists")
        }
        return record
    }

    public func replaceTemplate(_ caller: Caller, name: String, _ input: ExportedPolicyInput) async throws -> TemplateRecord {
        let existing = try await getTemplate(caller, name: name)
        let record = try templateRecord(caller, name: name, input, createdAt: existing.createdAt)
        _ = try await store.replaceTemplate(record)
        return record
    }

    public func deleteTemplate(_ caller: Caller, name: String) async throws {
        guard try await store.deleteTemplate(tenantID: caller.tenantID, name: name) else {
            throw ControlError.notFound("template \(Escape.escaped(name)) not found")
        }
    }
}
