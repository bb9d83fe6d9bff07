import Foundation
import HTTPTypes
import OpenAPIRuntime
import PortcullisControl
import PortcullisPolicy

/// The document's routes (method and path template), so that a request whose path exists
/// under another method is answered 405 with `Allow`, not 404 (RFC 9110 §15.5.6).
struct RouteTable: Sendable {
    private var routes: [(segments: [Substring], method: HTTPRequest.Method)] = []

    mutating func add(method: HTTPRequest.Method, path: String) {
        routes.append((Self.segments(path), method))
    }

    /// The methods declared for `path`, in registration order; empty for an unknown path.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let asked = Self.segments(path)
        var out: [HTTPRequest.Method] = []
        for route in routes where route.segments.count == asked.count && !out.contains(route.method) {
            let matches = zip(route.segments, asked).allSatisfy { template, segment in
                (template.hasPrefix("{") && template.hasSuffix("}") && !segment.isEmpty) || template == segment
            }
            if matches { out.append(route.method) }
        }
        return out
    }

    private static func segments(_ path: String) -> [Substring] {
        let p = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return p.split(separator: "/", omittingEmptySubsequences: false)
    }
}

/// A transport that only lists the routes registered on it, so the middleware can know
/// them before the real routes are added (a router's middlewares must come first).
final class RouteListing: ServerTransport {
    private(set) var table = RouteTable()
    /// `METHOD /path/template` of every route, in registration order.
    private(set) var registered: [String] = []

    func register(
        _ handler: @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
        method: HTTPRequest.Method, path: String
    ) throws {
        table.add(method: method, path: path)
        registered.append("\(method.rawValue) \(path)")
    }
}

/// Path segments that are ids or names. A `.` or `..` segment (also spelt `%2e`) would be
/// taken as an id by the router, while browsers and proxies remove it and reach another
/// route (`/sandboxes/../network/observe` is the tenant's observe): refused with 400.
enum PathSegments {
    static func refuseDotSegments(_ path: String) throws {
        let p = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        for segment in p.split(separator: "/", omittingEmptySubsequences: true) where segment.count <= 9 {
            let decoded = String(segment).removingPercentEncoding ?? String(segment)
            if decoded == "." || decoded == ".." {
                throw ControlError.badRequest("a path segment is \(Escape.quoted(decoded)); ids and names are never . or ..")
            }
        }
    }
}
