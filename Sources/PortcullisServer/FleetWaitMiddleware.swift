import Foundation
import HTTPTypes
import Hummingbird
import PortcullisControl
import PortcullisPolicy

/// `?wait=fleet` on any policy-changing call (FLEET.md, "Propagation"): the call runs as
/// usual; when it committed a policy change and succeeded, the answer waits until every
/// node that is not `down` reports that version applied, for at most 5 s, then becomes
/// `202 {"policy_version", "lagging": [node ids], "status", "result"}` — the call's own
/// status and answer are kept in it (a created sandbox's id and proxy password, a
/// credential's placeholder: nothing the caller needs is lost to the wait). Runs after
/// authentication.
struct FleetWaitMiddleware<Context: RequestContext>: RouterMiddleware {
    let control: ControlPlane

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/api/"), let wait = request.uri.queryParameters["wait"] else {
            return try await next(request, context)
        }
        guard wait == "fleet" else { throw ControlError.badRequest("wait must be fleet, not \(Escape.quoted(String(wait)))") }
        let commit = PolicyCommit()
        let response = try await PolicyCommit.$current.withValue(commit) { try await next(request, context) }
        guard (200..<300).contains(response.status.code), let version = commit.version else { return response }
        let lagging = try await control.waitForFleet(version: version)
        guard !lagging.isEmpty else { return response }
        var body: [String: Any] = ["policy_version": Int64(clamping: version), "lagging": lagging,
                                   "status": Int(response.status.code)]
        let answer = CollectedBody()
        try await response.body.write(answer)
        if answer.buffer.readableBytes > 0 {
            body["result"] = try JSONSerialization.jsonObject(with: Data(answer.buffer.readableBytesView), options: [.fragmentsAllowed])
        }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .accepted, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Gathers a response body the API produced (a JSON answer, small) so it can be re-sent inside another.
final class CollectedBody: ResponseBodyWriter, @unchecked Sendable {
    var buffer = ByteBuffer()

    func write(_ buffer: ByteBuffer) async throws {
        var part = buffer
        self.buffer.writeBuffer(&part)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
