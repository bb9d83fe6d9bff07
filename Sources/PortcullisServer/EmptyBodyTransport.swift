import Foundation
import HTTPTypes
import PortcullisControl
import OpenAPIRuntime

/// Hands the generated handlers `nil` for an empty request body, so routes whose body is
/// optional (lockdown, observe, pending allow/block, create) accept a bare POST. Bodies are
/// buffered here, bounded by `maxBodyBytes` (413 beyond).
struct EmptyBodyTransport<Base: ServerTransport>: ServerTransport {
    let base: Base
    let maxBodyBytes: Int

    func register(
        _ handler: @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
        method: HTTPRequest.Method, path: String
    ) throws {
        let limit = maxBodyBytes
        try base.register({ request, body, metadata in
            guard let body else { return try await handler(request, nil, metadata) }
            let bytes: ArraySlice<UInt8>
            do {
                bytes = try await ArraySlice(collecting: body, upTo: limit)
            } catch {
                throw ControlErrorBridge.tooLarge(limit)
            }
            if !bytes.isEmpty { try NullMembers.refuse(in: bytes) }
            return try await handler(request, bytes.isEmpty ? nil : HTTPBody(bytes), metadata)
        }, method: method, path: path)
    }
}

/// Errors the transport raises before a handler runs.
enum ControlErrorBridge: Error {
    case tooLarge(Int)
}

/// The generated decoders read `null` as "left out" for every optional member. The document
/// makes a member nullable only where null means something (`port`, `methods`, `paths`,
/// `except`, `note`, `description`, `name`, `mode`); for the others a null is refused, as
/// the document says, rather than silently taken as absent.
enum NullMembers {
    static let notNullable: Set<String> = [
        "action", "host", "protocol", "warn_only", "allow_rules", "deny_rules", "profiles", "default_profiles",
        "hosts", "from_suggestions", "scope", "template", "clone_from", "network", "network_profile",
        "networkProfile", "source_addresses", "allow", "deny", "resolved", "rules", "method", "path",
    ]
    /// Members whose values hold more declared members (rule lists, the create-time network).
    static let containers: Set<String> = ["allow_rules", "deny_rules", "rules", "network"]

    static func refuse(in bytes: ArraySlice<UInt8>) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) as? [String: Any] else { return }
        try check(object, at: "")
    }

    private static func check(_ object: [String: Any], at prefix: String) throws {
        for (key, value) in object {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            if value is NSNull, notNullable.contains(key) {
                throw ControlError.badRequest("\(path) must not be null; leave it out instead")
            }
            guard containers.contains(key) else { continue }
            if let nested = value as? [String: Any] { try check(nested, at: path) }
            if let list = value as? [Any] {
                for (i, item) in list.enumerated() {
                    if let nested = item as? [String: Any] { try check(nested, at: "\(path)[\(i)]") }
                }
            }
        }
    }
}
