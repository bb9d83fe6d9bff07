import HTTPTypes
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
            return try await handler(request, bytes.isEmpty ? nil : HTTPBody(bytes), metadata)
        }, method: method, path: path)
    }
}

/// Errors the transport raises before a handler runs.
enum ControlErrorBridge: Error {
    case tooLarge(Int)
}
