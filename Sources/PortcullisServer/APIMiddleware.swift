import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime
import PortcullisAPI
import PortcullisControl
import PortcullisModel
import PortcullisPolicy

/// Authenticates `/api/` requests before anything else (so a bad key is 401 whatever the
/// body), refuses dot-segments in their paths, turns every error into
/// `{"error": "<message>"}` with the right status, and marks every answer
/// `X-Content-Type-Options: nosniff` (a browser never guesses a type for an API answer);
/// `/api/` answers are also `Cache-Control: no-store` (some carry secrets: a sandbox's
/// proxy password, a new API key; none is worth keeping in a cache).
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    let control: ControlPlane
    let logger: Logger
    /// The declared routes, to tell an undeclared method (405) from an unknown path (404).
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = await respond(request, context: context, next: next)
        response.headers[.xContentTypeOptions] = "nosniff"
        if request.uri.path.hasPrefix("/api/") { response.headers[.cacheControl] = "no-store" }
        return response
    }

    private func respond(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async -> Response {
        do {
            guard request.uri.path.hasPrefix("/api/") else { return try await next(request, context) }
            let caller = try await control.authenticate(bearer: Self.bearer(request.headers[.authorization]))
            try PathSegments.refuseDotSegments(request.uri.path)
            return try await RequestAuth.$caller.withValue(caller) { try await next(request, context) }
        } catch let e as HTTPError where e.status == .notFound {
            let allowed = routes.methods(for: request.uri.path)
            guard !allowed.isEmpty else { return Self.response(for: e, logger: logger, path: request.uri.path) }
            let allow = allowed.map { $0.rawValue }.joined(separator: ", ")
            var response = Self.errorResponse(status: 405, message: "method \(request.method.rawValue) is not allowed here; use \(allow)")
            response.headers[.allow] = allow
            return response
        } catch {
            return Self.response(for: error, logger: logger, path: request.uri.path)
        }
    }

    static func bearer(_ header: String?) -> String? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }

    static func response(for error: any Error, logger: Logger, path: String) -> Response {
        let (status, message) = describe(error)
        if status >= 500, status != 501 { logger.error("request failed", metadata: ["path": "\(path)", "error": "\(error)"]) }
        var response = errorResponse(status: status, message: message)
        let control = error as? ControlError ?? (error as? ServerError)?.underlyingError as? ControlError
        if let seconds = control?.retryAfter { response.headers[.retryAfter] = String(seconds) }
        return response
    }

    static func errorResponse(status: Int, message: String) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: ["error": message], options: [.withoutEscapingSlashes])) ?? Data(#"{"error":"internal error"}"#.utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == 401 { headers[.wwwAuthenticate] = #"Bearer realm="portcullis""# }
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The status and message for an error from a handler, the generated server or the router.
    static func describe(_ error: any Error) -> (Int, String) {
        switch error {
        case let e as ControlError:
            return (e.status, e.message)
        case let e as StrictInputError:
            return (400, e.message)
        case let e as ServerError:
            switch e.underlyingError {
            case let c as ControlError: return (c.status, c.message)
            case let s as StoreError: return s.kind == .conflict ? (409, s.message) : (500, "internal error")
            case let d as DecodingError: return (400, describe(d))
            default:
                // "Unknown" marks an error a handler threw; anything else is the runtime
                // refusing the request (bad JSON, wrong content type, missing parameter).
                if e.causeDescription == "Unknown" { return (500, "internal error") }
                return (400, "invalid request: \(e.causeDescription)")
            }
        case let s as StoreError:
            return s.kind == .conflict ? (409, s.message) : (500, "internal error")
        case ControlErrorBridge.tooLarge(let limit):
            return (413, "request body larger than \(limit) bytes")
        case ControlErrorBridge.busy(let limit):
            return (503, "the API is already receiving \(limit / (1 << 20)) MiB of request bodies; retry shortly")
        case let e as HTTPError:
            switch e.status.code {
            case 404: return (404, "not found")
            case 405: return (405, "method not allowed")
            case 413: return (413, "request body too large")
            default: return (e.status.code, e.body ?? e.status.reasonPhrase)
            }
        case let e as DecodingError:
            return (400, describe(e))
        default:
            return (500, "internal error")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let p = keys.filter { $0.stringValue != "" }.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            return p.hasPrefix(".") ? String(p.dropFirst()) : (p.isEmpty ? "body" : p)
        }
        switch error {
        case .keyNotFound(let key, let c): return "\(path(c.codingPath + [key])) is required"
        case .typeMismatch(_, let c): return "\(path(c.codingPath)) has the wrong type"
        case .valueNotFound(_, let c): return "\(path(c.codingPath)) must not be null"
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty { return "the body is not valid JSON" }
            if let key = c.codingPath.last?.stringValue, ["mode", "default_mode", "own_mode"].contains(key) {
                // The generated decoder refuses a word its enum lacks before the control
                // plane sees it; answer as ControlPlane.parseMode would.
                let given = invalidValue(c.debugDescription).map { ", not \(Escape.quoted($0))" } ?? ""
                return "\(path(c.codingPath)) must be one of \(Mode.acceptedSpellings)\(given)"
            }
            return "\(path(c.codingPath)) has an invalid value"
        @unknown default: return "the body could not be read"
        }
    }

    /// The value a RawRepresentable decoding refused, from its description (`Cannot
    /// initialize ModeInput from invalid String value bogus`); nil when it is not there.
    static func invalidValue(_ description: String) -> String? {
        let marker = "from invalid String value "
        guard let r = description.range(of: marker) else { return nil }
        return String(description[r.upperBound...])
    }
}
