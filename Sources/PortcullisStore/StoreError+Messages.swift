import PortcullisModel

/// The conflict messages both backends give, so the API says the same thing whichever
/// store runs under it.
extension StoreError {
    static func tenantNameTaken(_ name: String) -> StoreError {
        StoreError(.conflict, "a tenant named \(quoted(name)) already exists")
    }
    static func exists(_ kind: String, _ id: String) -> StoreError {
        StoreError(.conflict, "\(kind) \(id) already exists")
    }
    static func keyHashTaken() -> StoreError {
        StoreError(.conflict, "an API key with this hash already exists")
    }
    static func unknownTenant(_ id: String) -> StoreError {
        StoreError(.conflict, "tenant \(id) does not exist")
    }
    static func unknownSandbox(_ id: String) -> StoreError {
        StoreError(.conflict, "sandbox \(id) does not exist")
    }
    /// The owner is not named: it may be another tenant's sandbox, and this message reaches
    /// the API when two claims race (the control plane names the owner when it is the
    /// caller's own).
    static func addressTaken(_ address: String) -> StoreError {
        StoreError(.conflict, "address \(address) already belongs to another sandbox")
    }
    static func addressListedTwice(_ address: String) -> StoreError {
        StoreError(.conflict, "address \(address) is listed twice")
    }
    static func profileNameTaken(_ name: String) -> StoreError {
        StoreError(.conflict, "a profile named \(quoted(name)) already exists")
    }
    static func templateNameTaken(_ name: String) -> StoreError {
        StoreError(.conflict, "a template named \(quoted(name)) already exists")
    }
    static func credentialNameTaken(_ name: String) -> StoreError {
        StoreError(.conflict, "a credential named \(quoted(name)) already exists")
    }
    static func unknownCredential(_ id: String) -> StoreError {
        StoreError(.conflict, "credential \(id) does not exist")
    }
    static func placeholderTaken() -> StoreError {
        StoreError(.conflict, "the placeholder is already in use; attach again for a new one")
    }
    static func ruleExists(_ id: String) -> StoreError {
        StoreError(.conflict, "rule \(id) already exists for this owner")
    }
    static func corrupt(_ what: String) -> StoreError {
        StoreError(.backend, "stored data is not valid: \(what)")
    }

    private static func quoted(_ s: String) -> String { "\"" + s + "\"" }
}
