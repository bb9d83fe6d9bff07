import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PortcullisControl
import PortcullisModel
import PortcullisPolicy
@testable import PortcullisServer
import PortcullisStore
import Testing

/// A control plane over an in-memory store, served through the real router (no sockets).
struct API: Sendable {
    let client: any TestClientProtocol
    let control: ControlPlane
    let store: InMemoryStore
    let admin: String

    struct Reply {
        let status: Int
        let body: Data
        var headers: HTTPFields = [:]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
        var error: String? { json["error"] as? String }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func call(_ method: HTTPRequest.Method, _ path: String, key: String? = nil, json: String? = nil) async throws -> Reply {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: headers,
                                        body: json.map { ByteBuffer(string: $0) }) { response in
            Reply(status: Int(response.status.code), body: Data(buffer: response.body), headers: response.headers)
        }
    }

    /// Calls as the admin (the default tenant).
    func admin(_ method: HTTPRequest.Method, _ path: String, json: String? = nil) async throws -> Reply {
        try await call(method, path, key: admin, json: json)
    }

    /// Creates a second tenant and returns its key.
    func otherTenantKey(_ name: String = "other") async throws -> String {
        let r = try await admin(.post, "/api/v1/tenants", json: #"{"name": "\#(name)"}"#)
        #expect(r.status == 201, "\(r.text)")
        return r.json["api_key"] as? String ?? ""
    }

    /// Creates a sandbox and returns its id.
    func sandbox(_ json: String = "{}", key: String? = nil) async throws -> String {
        let r = try await call(.post, "/api/v1/sandboxes", key: key ?? admin, json: json)
        #expect(r.status == 201, "\(r.text)")
        return r.json["id"] as? String ?? "missing"
    }
}

/// Runs `body` against a fresh control plane. `clock` is shared so tests can move time.
func withAPI(sourceAddresses: SourceAddressPolicy = SourceAddressPolicy(), limits: APIListenerLimits = APIListenerLimits(),
             publish: @escaping @Sendable (GatewaySnapshot) -> Void = { _ in },
             _ body: @escaping @Sendable (API) async throws -> Void) async throws {
    let store = InMemoryStore()
    let control = ControlPlane(store: store, sourceAddressPolicy: sourceAddresses,
                               now: { Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) }, publish: publish)
    try await control.start()
    let adminKey = "test-admin-key-0123456789"
    _ = try await control.ensureAdminKey(token: adminKey)
    let app = try APIServer.application(control: control, host: "127.0.0.1", port: 0, logger: Logger(label: "test"), limits: limits,
                                        readiness: { true }, metrics: { "" })
    try await app.test(.router) { client in
        try await body(API(client: client, control: control, store: store, admin: adminKey))
    }
}
