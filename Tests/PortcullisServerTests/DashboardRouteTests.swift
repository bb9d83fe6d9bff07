import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import PortcullisServer
import Testing

@Suite("Dashboard: static files")
struct DashboardRouteTests {
    struct Page {
        let status: Int
        let headers: HTTPFields
        let text: String
    }

    static func get(_ api: API, _ path: String, headers: HTTPFields = [:]) async throws -> Page {
        try await api.client.execute(uri: path, method: .get, headers: headers, body: nil) { r in
            Page(status: Int(r.status.code), headers: r.headers, text: String(decoding: Data(buffer: r.body), as: UTF8.self))
        }
    }

    @Test("/ serves the page without a key, with a strict Content-Security-Policy and no inline script")
    func rootServesHTML() async throws {
        try await withAPI { api in
            let page = try await Self.get(api, "/")
            #expect(page.status == 200)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let csp = try #require(page.headers[.contentSecurityPolicy])
            #expect(csp.hasPrefix("default-src 'self'"))
            #expect(csp.contains("script-src 'self'"))
            #expect(csp.contains("frame-ancestors 'none'"))
            #expect(!csp.contains("unsafe-inline"))
            #expect(page.headers[.xContentTypeOptions] == "nosniff")
            #expect(page.headers[.cacheControl] == "no-cache")
            #expect(page.text.contains(#"<script type="module" src="/ui/app.js"></script>"#))
            // Every <script> names a file: no inline code for the CSP to have to allow.
            #expect(!page.text.contains("<script>"))
            #expect(!page.text.contains("http://") && !page.text.contains("https://"))
        }
    }

    @Test("assets carry their content type", arguments: [
        ("/ui/app.js", "text/javascript; charset=utf-8"), ("/ui/api.js", "text/javascript; charset=utf-8"),
        ("/ui/app.css", "text/css; charset=utf-8"), ("/index.html", "text/html; charset=utf-8"),
    ])
    func assetTypes(path: String, type: String) async throws {
        try await withAPI { api in
            let page = try await Self.get(api, path)
            #expect(page.status == 200)
            #expect(page.headers[.contentType] == type)
            #expect(page.headers[.contentSecurityPolicy] != nil)
            #expect(page.text.count > 100)
        }
    }

    @Test("a matching If-None-Match answers 304 without a body")
    func revalidation() async throws {
        try await withAPI { api in
            let first = try await Self.get(api, "/ui/app.js")
            let etag = try #require(first.headers[.eTag])
            var h = HTTPFields()
            h[.ifNoneMatch] = etag
            let again = try await Self.get(api, "/ui/app.js", headers: h)
            #expect(again.status == 304)
            #expect(again.text.isEmpty)
            h[.ifNoneMatch] = #""stale""#
            #expect(try await Self.get(api, "/ui/app.js", headers: h).status == 200)
        }
    }

    @Test("an unknown dashboard path is 404, and /api/ still refuses a missing key")
    func unknownAndAPI() async throws {
        try await withAPI { api in
            #expect(try await Self.get(api, "/ui/x").status == 404)
            #expect(try await Self.get(api, "/ui/../index.html").status == 404)
            let noKey = try await api.call(.get, "/api/v1/sandboxes")
            #expect(noKey.status == 401)
            #expect(noKey.error != nil)
            #expect(try await api.admin(.get, "/api/v1/sandboxes").status == 200)
            #expect(try await Self.get(api, "/readyz").status == 200)
            #expect(try await Self.get(api, "/healthz").text == "ok\n")
        }
    }

    @Test("the embedded files match Sources/PortcullisServer/Dashboard/web (run scripts/embed-dashboard)")
    func embeddedFilesAreFresh() throws {
        let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/PortcullisServer/Dashboard/web").resolvingSymlinksInPath()
        let enumerator = try #require(FileManager.default.enumerator(at: web, includingPropertiesForKeys: [.isRegularFileKey]))
        var onDisk: [String: URL] = [:]
        for case let file as URL in enumerator where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let full = file.resolvingSymlinksInPath().path
            #expect(full.hasPrefix(web.path + "/"), "\(full)")
            onDisk["/" + full.dropFirst(web.path.count + 1)] = file
        }
        #expect(Set(onDisk.keys) == Set(DashboardAssets.files.keys), "run scripts/embed-dashboard")
        for (path, file) in onDisk {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(DashboardAssets.files[path]?.text == text, "\(path) is stale: run scripts/embed-dashboard")
        }
    }

    @Test("no dashboard script writes HTML from strings")
    func noInnerHTML() {
        for (path, asset) in DashboardAssets.files where path.hasSuffix(".js") {
            #expect(!asset.text.contains("innerHTML"), "\(path)")
            #expect(!asset.text.contains("insertAdjacentHTML"), "\(path)")
            #expect(!asset.text.contains("document.write"), "\(path)")
            #expect(!asset.text.contains("eval("), "\(path)")
        }
    }
}
