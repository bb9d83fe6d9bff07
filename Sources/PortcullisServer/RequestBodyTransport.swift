import Foundation
import HTTPTypes
import OpenAPIRuntime
import PortcullisAPI
import Synchronization

/// Where every request body of the generated API passes before its handler runs: bodies are
/// buffered (at most `maxBodyBytes`, 413 beyond), held to strict input (`StrictBody`: an
/// unknown field, a key given twice or a null the document does not allow is a 400, and
/// nothing is changed), and an empty body is handed on as `nil`, so routes whose body is
/// optional (lockdown, pending allow/block, create) accept a bare POST. The query string of
/// an `/api/` route is held to its declared parameters first (`StrictQuery`: an unknown
/// parameter, or a value the parameter does not take, is a 400 naming it), so the generated
/// decoder's refusals, which name nothing, are never what a caller sees.
struct RequestBodyTransport<Base: ServerTransport>: ServerTransport {
    let base: Base
    let maxBodyBytes: Int
    /// Bytes of request bodies held at once, over every connection: a body that would take
    /// the total past it is refused (503), so 512 connections each sending most of an 8 MiB
    /// body cannot hold gigabytes.
    let budget: BodyBudget

    func register(
        _ handler: @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
        method: HTTPRequest.Method, path: String
    ) throws {
        let limit = maxBodyBytes
        let budget = self.budget
        guard let expected = RequestShapes.body(method: method.rawValue, path: path) else {
            throw UndocumentedOperation(method: method.rawValue, path: path)
        }
        let parameters = RequestShapes.query(method: method.rawValue, path: path)
        let strictQuery = path.hasPrefix("/api/")
        try base.register({ request, body, metadata in
            if strictQuery, let target = request.path, let mark = target.firstIndex(of: "?") {
                try StrictQuery.check(target[target.index(after: mark)...], against: parameters, isTime: { RFC3339.parse($0) != nil })
            }
            guard let body else { return try await handler(request, nil, metadata) }
            var collected: [UInt8] = []
            var held = 0
            defer { budget.give(held) }
            for try await chunk in body {
                guard collected.count + chunk.count <= limit else { throw ControlErrorBridge.tooLarge(limit) }
                guard budget.take(chunk.count) else { throw ControlErrorBridge.busy(budget.limit) }
                held += chunk.count
                collected += chunk
            }
            let bytes = collected[...]
            guard !bytes.isEmpty else { return try await handler(request, nil, metadata) }
            let nulls = try StrictBody.check(bytes, against: expected)
            return try await RequestBodyNulls.$fields.withValue(nulls) { try await handler(request, HTTPBody(bytes), metadata) }
        }, method: method, path: path)
    }
}

/// The top-level fields the request body gave as `null`, for the handlers where null means
/// something (`PATCH /sandboxes/{id}` `{"name": null}` removes the name); the generated
/// types read null and "left out" alike.
enum RequestBodyNulls {
    @TaskLocal static var fields: Set<String> = []
}

/// Errors the transport raises before a handler runs.
enum ControlErrorBridge: Error {
    case tooLarge(Int)
    /// The bodies held at once across the listener reached their budget.
    case busy(Int)
}

/// The request-body bytes the API listener holds at once (`RequestBodyTransport`).
final class BodyBudget: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    var inUse: Int { used.load(ordering: .relaxed) }

    /// Takes `n` bytes of the budget; false (nothing taken) when that would exceed it.
    func take(_ n: Int) -> Bool {
        let now = used.wrappingAdd(n, ordering: .relaxed).newValue
        guard now <= limit else {
            used.wrappingSubtract(n, ordering: .relaxed)
            return false
        }
        return true
    }

    func give(_ n: Int) {
        if n > 0 { used.wrappingSubtract(n, ordering: .relaxed) }
    }
}

/// A route the generated server registers that `RequestShapes` does not know: the shapes
/// are stale (run scripts/embed-request-shapes). Raised when the server is built, so it
/// never starts without strict input for some operation.
struct UndocumentedOperation: Error, CustomStringConvertible {
    let method: String
    let path: String
    var description: String { "\(method) \(path) has no request shape; run scripts/embed-request-shapes" }
}
