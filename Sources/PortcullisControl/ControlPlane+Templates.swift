import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// Template names as the API document has them: 1-64 lower-case letters, digits, `.`, `_`
    /// and `-`, starting with a letter or digit (safe in a URL path as they are).
    static func validateTemplateName(_ name: String) throws {
        let b = name.utf8
        func isLowerOrDigit(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard (1...64).contains(b.count), b.first.map(isLowerOrDigit) == true,
              b.allSatisfy({ isLowerOrDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) else {
            throw ControlError.badRequest("template name \(Escape.quoted(name)) must be 1-64 lower-case letters, digits, ., _ or -, starting with a letter or digit")
        }
    }

    func templateRecord(_ caller: Caller, name: String, _ input: ExportedPolicyInput, createdAt: Timestamp?) throws -> TemplateRecord {
        let owner = RuleOwner.template(tenantID: caller.tenantID, name: name)
        let t = now()
        return TemplateRecord(tenantID: caller.tenantID, name: name, mode: try ownMode(input, tenantID: caller.tenantID),
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
