import Foundation
import HTTPTypes
import Hummingbird

/// One embedded dashboard file.
struct DashboardAsset: Sendable {
    let contentType: String
    /// A strong validator: a digest of the bytes, quoted (computed by scripts/embed-dashboard).
    let etag: String
    let text: String
}

/// The web dashboard: static files compiled into the binary (see scripts/embed-dashboard
/// for why they are literals and not SwiftPM resources), served without a key at `/` and
/// `/ui/…`. Every call the pages make goes to `/api/` with the operator's Bearer key.
enum DashboardAssets {
    /// No inline script or style, nothing from another origin, no framing, no forms posting away.
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// Headers HTTPTypes has no constant for.
    static let extraHeaders: [(HTTPField.Name, String)] = [
        ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"), ("Cross-Origin-Opener-Policy", "same-origin"),
    ].compactMap { name, value in HTTPField.Name(name).map { ($0, value) } }

    /// The asset a request path names: `/` is the page; other files live under `/ui/`.
    static func asset(forPath path: String) -> DashboardAsset? {
        if path == "/" || path == "/index.html" { return files["/index.html"] }
        guard path.hasPrefix("/ui/") else { return nil }
        return files[path]
    }

    /// The response for `asset`: 304 when the client already holds these bytes. Files are
    /// revalidated on every load (`no-cache`), so an upgraded binary is picked up at once.
    static func response(for asset: DashboardAsset, ifNoneMatch: String?) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[.eTag] = asset.etag
        headers[.cacheControl] = "no-cache"
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        for (name, value) in extraHeaders { headers[name] = value }
        if let ifNoneMatch, ifNoneMatch.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: asset.text)))
    }

    /// Adds a GET route for `/` and for every embedded file.
    static func register<Context: RequestContext>(on router: Router<Context>) {
        var paths = ["/"]
        paths.append(contentsOf: files.keys.sorted())
        for path in paths {
            guard let asset = asset(forPath: path) else { continue }
            router.get(RouterPath(path)) { request, _ in
                response(for: asset, ifNoneMatch: request.headers[.ifNoneMatch])
            }
        }
    }
}
