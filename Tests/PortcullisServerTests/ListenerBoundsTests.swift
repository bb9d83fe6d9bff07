import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PortcullisControl
@testable import PortcullisServer
import Testing

/// Issue 15, points 4, 5 and 9 at the API's edge: the connection timeouts as a state
/// machine (time passed in), live streams per key, dot-segments in paths, `nosniff`.
/// tests/e2e/test_control_bounds.py holds the same against a real `serve` socket.
@Suite("API listener: timeouts, stream slots, paths, headers")
struct ListenerBoundsTests {
    static let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static func at(_ seconds: Double) -> NIODeadline { t0 + .nanoseconds(Int64(seconds * 1e9)) }

    static func machine() -> APIConnectionState { APIConnectionState(headTimeout: .seconds(10), idleTimeout: .seconds(60)) }

    @Test("a new connection that says nothing closes after the head timeout; an idle one after an answer, the idle timeout")
    func idle() {
        var m = Self.machine()
        #expect(m.opened(at: Self.at(0)) == .schedule(Self.at(10)))
        #expect(m.timerFired(at: Self.at(10)) == .close(requestTimeout: false))
        var k = Self.machine()
        _ = k.opened(at: Self.at(0))
        _ = k.headArrived(at: Self.at(1))
        _ = k.requestEnded(at: Self.at(1))
        #expect(k.responseEnded(at: Self.at(2)) == .schedule(Self.at(62)))
        #expect(k.timerFired(at: Self.at(62)) == .close(requestTimeout: false))
    }

    @Test("half a head closes after the head timeout with 408, however the bytes trickle")
    func halfHead() {
        var m = Self.machine()
        _ = m.opened(at: Self.at(0))
        #expect(m.bytesArrived(at: Self.at(5)) == .schedule(Self.at(15)))
        #expect(m.bytesArrived(at: Self.at(9)) == .none, "more bytes of the same head do not move the deadline")
        #expect(m.timerFired(at: Self.at(15)) == .close(requestTimeout: true))
    }

    @Test("a stalled body closes after the idle timeout; a slow answer (a stream) is never cut")
    func bodyAndAnswer() {
        var m = Self.machine()
        _ = m.opened(at: Self.at(0))
        _ = m.bytesArrived(at: Self.at(1))
        #expect(m.headArrived(at: Self.at(2)) == .schedule(Self.at(62)))
        #expect(m.bytesArrived(at: Self.at(30)) == .schedule(Self.at(62)), "a body is whole within 60 s of its head")
        #expect(m.timerFired(at: Self.at(62)) == .close(requestTimeout: false))

        var b = Self.machine()
        _ = b.opened(at: Self.at(0))
        _ = b.headArrived(at: Self.at(0))
        #expect(b.bytesArrived(at: Self.at(1)) == .schedule(Self.at(60)), "not 61: the body's own deadline")
        var stalled = Self.machine()
        _ = stalled.opened(at: Self.at(0))
        _ = stalled.headArrived(at: Self.at(0))
        #expect(stalled.timerFired(at: Self.at(59)) == .schedule(Self.at(60)))
        #expect(stalled.timerFired(at: Self.at(60)) == .close(requestTimeout: false), "a stalled body closes too")

        var s = Self.machine()
        _ = s.opened(at: Self.at(0))
        _ = s.headArrived(at: Self.at(1))
        #expect(s.requestEnded(at: Self.at(1)) == .cancel)
        #expect(s.timerFired(at: Self.at(3600)) == .none, "an hour of streaming is fine")
        #expect(s.responseEnded(at: Self.at(3600)) == .schedule(Self.at(3660)))
        #expect(s.bytesArrived(at: Self.at(3601)) == .schedule(Self.at(3611)), "the next head has its own head timeout")
    }

    @Test("pipelined requests keep the connection until the last answer ends")
    func pipelined() {
        var m = Self.machine()
        _ = m.opened(at: Self.at(0))
        _ = m.headArrived(at: Self.at(1))
        _ = m.requestEnded(at: Self.at(1))
        _ = m.headArrived(at: Self.at(1))
        _ = m.requestEnded(at: Self.at(1))
        #expect(m.responseEnded(at: Self.at(2)) == .none)
        #expect(m.timerFired(at: Self.at(100)) == .none)
        #expect(m.responseEnded(at: Self.at(100)) == .schedule(Self.at(160)))
    }

    @Test("a key holds at most its streams; a dropped slot is given back")
    func slots() {
        let slots = StreamSlots(limit: 2)
        var held = [slots.take(key: "a"), slots.take(key: "a")]
        #expect(held.allSatisfy { $0 != nil })
        #expect(slots.take(key: "a") == nil)
        #expect(slots.take(key: "b") != nil, "another key has its own slots")
        held.removeLast()
        #expect(slots.count(key: "a") == 1)
        #expect(slots.take(key: "a") != nil)
        held.removeAll()
        #expect(slots.count(key: "a") == 0)
    }

    @Test("one stream too many for a key is 429 with Retry-After")
    func streamCap() async throws {
        try await withAPI { api in
            // The router's test client waits for whole answers, and a stream never ends: hold
            // a slot as an open stream does and ask the handler itself (tests/e2e opens real streams).
            let caller = try await api.control.authenticate(bearer: api.admin)
            let handler = APIHandler(control: api.control, readiness: { true }, metrics: { "" }, streamSlots: StreamSlots(limit: 1))
            let held = handler.streamSlots.take(key: caller.keyID)
            #expect(held != nil)
            do {
                _ = try await RequestAuth.$caller.withValue(caller) { try await handler.streamAudit(.init()) }
                Issue.record("a second stream for the key was opened")
            } catch let e as ControlError {
                #expect(e.status == 429 && e.retryAfter == APIListenerLimits.streamRetryAfterSeconds)
                let response = APIMiddleware<BasicRequestContext>.response(for: e, logger: Logger(label: "test"), path: "/api/v1/audit/stream")
                #expect(response.status.code == 429)
                #expect(response.headers[.retryAfter] == "15")
            }
            withExtendedLifetime(held) {}
        }
    }

    @Test("dot-segments in an API path are refused, encoded or not", arguments: [
        "/api/v1/sandboxes/../network/observe", "/api/v1/sandboxes/%2e%2e/network/observe", "/api/v1/sandboxes/%2E%2e/network/rules",
        "/api/v1/sandboxes/./network/policy", "/api/v1/sandboxes/sbx_x/network/rules/..", "/api/v1/templates/%2e",
    ])
    func dotSegments(path: String) async throws {
        try await withAPI { api in
            let method: HTTPRequest.Method = path.hasSuffix("observe") || path.hasSuffix("rules") ? .post : .get
            let r = try await api.admin(method, path, json: path.hasSuffix("rules") ? #"{"action": "allow", "host": "x.test"}"# : nil)
            #expect(r.status == 400, "\(r.text)")
            #expect(r.error?.contains("never . or ..") == true, "\(r.text)")
            #expect(try await api.admin(.get, "/api/v1/network/policy").json["default_mode"] as? String == "audit")
            #expect((try await api.admin(.get, "/api/v1/network/policy").json["allow_rules"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("every API answer, errors included, says X-Content-Type-Options: nosniff, and Cache-Control: no-store")
    func nosniff() async throws {
        try await withAPI { api in
            for (method, path, key) in [(HTTPRequest.Method.get, "/api/v1/sandboxes", api.admin), (.get, "/api/v1/sandboxes/sbx_none", api.admin),
                                        (.get, "/api/v1/sandboxes", "wrong"), (.get, "/healthz", api.admin), (.get, "/metrics", api.admin)] {
                var headers = HTTPFields()
                headers[.authorization] = "Bearer \(key)"
                let (sniff, cache) = try await api.client.execute(uri: path, method: method, headers: headers, body: nil) {
                    ($0.headers[.xContentTypeOptions], $0.headers[.cacheControl])
                }
                #expect(sniff == "nosniff", "\(path)")
                #expect(path.hasPrefix("/api/") ? cache == "no-store" : cache == nil, "\(path): an API answer is never cached")
            }
        }
    }
}

@Suite("API listener: the request-body budget")
struct BodyBudgetTests {
    @Test("bodies held at once stay within the budget; what is given back can be taken again")
    func budget() {
        let budget = BodyBudget(limit: 100)
        #expect(budget.take(60) && budget.take(40))
        #expect(!budget.take(1), "full")
        #expect(budget.inUse == 100)
        budget.give(40)
        #expect(!budget.take(41) && budget.take(40))
        budget.give(100)
        #expect(budget.inUse == 0)
    }
}
