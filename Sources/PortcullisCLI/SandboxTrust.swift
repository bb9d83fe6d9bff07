import Foundation
import OpenAPIRuntime
import PortcullisAPI
import PortcullisRunner

/// The sandbox's CA as the CLI hands it out: `sandbox create|show --ca-file` and `run`.
enum SandboxTrust {
    /// The largest CA answer read (one certificate is about 700 bytes of PEM).
    static let maxPEM = 64 * 1024

    /// `GET /api/v1/sandboxes/{id}/ca.pem`.
    static func certificatePEM(_ client: Client, sandboxID: String) async throws -> String {
        let body = try await client.getSandboxCA(path: .init(id: sandboxID)).ok.body.application_x_hyphen_pem_hyphen_file
        return try await String(collecting: body, upTo: maxPEM)
    }

    /// The bundle for the sandbox: the system's roots (a warning on stderr when none is
    /// found) and the sandbox's CA.
    static func bundle(_ client: Client, sandboxID: String) async throws -> String {
        let ca = try await certificatePEM(client, sandboxID: sandboxID)
        let system = CABundle.systemBundle()
        if system == nil {
            printError("no system CA bundle found (\(CABundle.systemLocations.joined(separator: ", "))): the bundle holds only the sandbox's CA, so hosts the gateway does not terminate will not validate")
        }
        return CABundle.compose(system: system?.text, sandboxCA: ca, sandboxID: sandboxID)
    }

    /// Writes the bundle to `path` (made absolute); returns the absolute path.
    static func write(_ client: Client, sandboxID: String, to path: String) async throws -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let text = try await bundle(client, sandboxID: sandboxID)
        do { try CABundle.write(text, to: absolute) } catch let e as RunSetupError { throw InputError(e.message) }
        return absolute
    }
}
