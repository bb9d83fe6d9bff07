import NIOHTTP1
import PortcullisPolicy
import Testing
@testable import PortcullisProxy

/// What the head check refuses before anything is decided, and what the log keeps of a
/// target that did not parse.
@Suite struct RequestHeadCheckTests {
    static func head(_ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: "http://allowed.test/x", headers: HTTPHeaders(headers))
    }

    @Test func aValueThatWasNotUTF8IsRefusedAndUTF8IsKept() {
        // NIO decodes a value's bytes as UTF-8: 0xFF arrives as U+FFFD, which could not be
        // forwarded as it came.
        let replaced = String(decoding: [0x61, 0xFF, 0x62] as [UInt8], as: UTF8.self)
        guard case .failure(let refusal) = RequestHeadCheck.check(Self.head([("Host", "allowed.test"), ("X-Name", replaced)])) else {
            Issue.record("accepted a value that was not UTF-8")
            return
        }
        #expect(refusal.message.contains("not UTF-8") && refusal.message.contains("X-Name"))
        guard case .success = RequestHeadCheck.check(Self.head([("Host", "allowed.test"), ("X-Name", "Zoë, 東京")])) else {
            Issue.record("refused a UTF-8 value")
            return
        }
    }

    @Test(arguments: [
        ("http://u:p;w@allowed.test/a;jsessionid=S?q=1", "http://allowed.test/a"),
        ("/v1/..;/admin", "/v1/.."),
        ("http://allowed.test;x/p", "http://allowed.test;x/p"),
        ("http://allowed.test", "http://allowed.test"),
        ("/plain#frag", "/plain"),
    ])
    func anUnparsedTargetKeepsNoUserinfoQueryFragmentOrPathParameters(raw: String, kept: String) {
        #expect(AuditRecord.unparsedTarget(raw) == kept)
    }

    @Test func theHostSentUpstreamLeavesOutOnlyTheSchemesDefaultPort() throws {
        func target(_ port: UInt16) throws -> Target {
            Target(host: try HostParser.parseTarget("allowed.test"), port: port, transport: .tcp, request: .notApplicable)
        }
        #expect(HTTPStreamHandler.hostHeader(try target(80)) == "allowed.test")
        #expect(HTTPStreamHandler.hostHeader(try target(443)) == "allowed.test:443")
        #expect(HTTPStreamHandler.hostHeader(try target(443), defaultPort: 443) == "allowed.test")
        #expect(HTTPStreamHandler.hostHeader(try target(8443), defaultPort: 443) == "allowed.test:8443")
    }
}
