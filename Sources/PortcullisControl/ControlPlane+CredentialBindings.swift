import PortcullisKeys
import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// A sandbox's attached credentials as the data plane applies them: each with the
    /// sandbox's placeholder and the value opened (in memory only). A credential whose value
    /// does not open is left out, so its placeholder is refused as unknown (fail closed), and
    /// `unopenedCredentials` names it.
    func bindings(of sandboxID: String) -> [CredentialBinding] {
        (attachments[sandboxID] ?? []).compactMap { a in
            guard let record = credentials[a.credentialID], let value = openedValue(of: record) else { return nil }
            return record.spec.binding(placeholder: a.placeholder, secret: value)
        }
    }

    /// The credential's value, opened once per sealed value.
    func openedValue(of record: CredentialRecord) -> String? {
        if let opened = openedValues[record.id], opened.sealed == record.sealedValue { return opened.value }
        do {
            let bytes = try secrets.open(record.sealedValue, context: CredentialRecord.sealingContext(record.id))
            let value = String(decoding: bytes, as: UTF8.self)
            openedValues[record.id] = (record.sealedValue, value)
            unopenedCredentials.remove(record.id)
            return value
        } catch {
            openedValues[record.id] = nil
            unopenedCredentials.insert(record.id)
            return nil
        }
    }

    /// Replaces the cached credentials of a tenant; returns the ids whose record changed.
    func recache(credentialsOf tenantID: String, _ list: [CredentialRecord]) -> Set<String> {
        var changed = Set<String>()
        let old = credentials.values.filter { $0.tenantID == tenantID }
        for c in old where !list.contains(where: { $0.id == c.id }) {
            credentials[c.id] = nil
            openedValues[c.id] = nil
            unopenedCredentials.remove(c.id)
            changed.insert(c.id)
        }
        for c in list where credentials[c.id] != c {
            credentials[c.id] = c
            changed.insert(c.id)
        }
        return changed
    }
}
