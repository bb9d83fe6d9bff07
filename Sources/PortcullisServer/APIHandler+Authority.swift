import OpenAPIRuntime
import PortcullisAPI
import PortcullisControl

extension APIHandler {
    /// `GET /api/v1/sandboxes/{id}/ca.pem`: the CA certificate (PEM).
    func getSandboxCA(_ input: Operations.getSandboxCA.Input) async throws -> Operations.getSandboxCA.Output {
        let pem = try await control.certificateAuthorityPEM(try await caller(), id: input.path.id)
        return .ok(.init(body: .application_x_hyphen_pem_hyphen_file(HTTPBody(pem))))
    }
}
