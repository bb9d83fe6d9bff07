import OpenAPIRuntime
import PortcullisAPI
import PortcullisControl
import PortcullisPolicy

extension APIHandler {
    // MARK: the tenant's credentials (values are write-only: no answer carries one)

    func listCredentials(_ input: Operations.listCredentials.Input) async throws -> Operations.listCredentials.Output {
        .ok(.init(body: .json(.init(items: try await control.listCredentials(try await caller()).map(APIMapping.credential)))))
    }

    func createCredential(_ input: Operations.createCredential.Input) async throws -> Operations.createCredential.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        let draft = APIMapping.credentialDraft(name: b.name, binding: b.binding, placement: b.placement, require: b.require)
        return .created(.init(body: .json(APIMapping.credential(try await control.createCredential(c, draft, value: b.value)))))
    }

    func getCredential(_ input: Operations.getCredential.Input) async throws -> Operations.getCredential.Output {
        .ok(.init(body: .json(APIMapping.credential(try await control.getCredential(try await caller(), name: input.path.name)))))
    }

    func replaceCredential(_ input: Operations.replaceCredential.Input) async throws -> Operations.replaceCredential.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        let draft = APIMapping.credentialDraft(name: b.name ?? input.path.name, binding: b.binding, placement: b.placement,
                                               require: b.require)
        let v = try await control.replaceCredential(c, name: input.path.name, draft, value: b.value)
        return .ok(.init(body: .json(APIMapping.credential(v))))
    }

    func deleteCredential(_ input: Operations.deleteCredential.Input) async throws -> Operations.deleteCredential.Output {
        try await control.deleteCredential(try await caller(), name: input.path.name)
        return .noContent(.init())
    }

    // MARK: a sandbox's credentials

    func listSandboxCredentials(_ input: Operations.listSandboxCredentials.Input) async throws -> Operations.listSandboxCredentials.Output {
        let items = try await control.sandboxCredentials(try await caller(), id: input.path.id)
        return .ok(.init(body: .json(.init(items: items.map(APIMapping.attached)))))
    }

    func attachCredential(_ input: Operations.attachCredential.Input) async throws -> Operations.attachCredential.Output {
        let v = try await control.attachCredential(try await caller(), id: input.path.id, name: input.path.name)
        return .ok(.init(body: .json(APIMapping.attached(v))))
    }

    func detachCredential(_ input: Operations.detachCredential.Input) async throws -> Operations.detachCredential.Output {
        try await control.detachCredential(try await caller(), id: input.path.id, name: input.path.name)
        return .noContent(.init())
    }
}

extension APIMapping {
    static func credentialDraft(name: String, binding: Schemas.CredentialBindingInput, placement: Schemas.CredentialPlacementInput,
                                require: Bool?) -> CredentialDraft {
        CredentialDraft(name: name, host: binding.host, port: binding.port, methods: binding.methods, pathPrefix: binding.path_prefix,
                        placementKind: placement.kind.rawValue, placementName: placement.name, placementFormat: placement.format,
                        require: require)
    }

    static func credentialBinding(_ s: CredentialSpec) -> Schemas.CredentialBinding {
        Schemas.CredentialBinding(host: s.host.description, port: Int(s.port), methods: s.methods, path_prefix: s.pathPrefix)
    }

    static func credentialPlacement(_ p: CredentialPlacement) -> Schemas.CredentialPlacement {
        switch p {
        case .header(let name, let format): return Schemas.CredentialPlacement(kind: .header, name: name, format: format)
        case .basic: return Schemas.CredentialPlacement(kind: .basic)
        case .query(let name): return Schemas.CredentialPlacement(kind: .query, name: name)
        }
    }

    static func credential(_ v: CredentialView) -> Schemas.Credential {
        Schemas.Credential(id: v.id, name: v.spec.name, binding: credentialBinding(v.spec), placement: credentialPlacement(v.spec.placement),
                           require: v.spec.require, created_at: date(v.createdAt), rotated_at: v.rotatedAt.map(date))
    }

    static func attached(_ v: AttachedCredentialView) -> Schemas.AttachedCredential {
        Schemas.AttachedCredential(name: v.spec.name, placeholder: v.placeholder, binding: credentialBinding(v.spec))
    }
}
