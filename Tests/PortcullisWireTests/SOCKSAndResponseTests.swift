import NIOCore
import PortcullisPolicy
import Testing
@testable import PortcullisWire

@Suite struct SOCKSUsernamePasswordTests {
    @Test func aRequestParsesOnlyWhenComplete() {
        var full = ByteBuffer()
        SOCKSUsernamePassword.writeRequest(ProxyCredential(username: "sbx_a", password: "tok"), into: &full)
        let bytes = Array(full.readableBytesView)
        for n in 0..<bytes.count {
            var partial = ByteBuffer(bytes: bytes[0..<n])
            #expect(SOCKSUsernamePassword.parse(&partial) == .needMoreBytes)
            #expect(partial.readableBytes == n)
        }
        #expect(SOCKSUsernamePassword.parse(&full) == .credential(ProxyCredential(username: "sbx_a", password: "tok")))
        #expect(full.readableBytes == 0)
    }

    @Test func aWrongVersionIsMalformed() {
        var b = ByteBuffer(bytes: [0x05, 1, 65, 1, 66])
        #expect(SOCKSUsernamePassword.parse(&b) == .malformed)
        var empty = ByteBuffer(bytes: [0x01, 0, 0])
        #expect(SOCKSUsernamePassword.parse(&empty) == .malformed)
    }

    @Test func responses() {
        var b = ByteBuffer()
        SOCKSUsernamePassword.writeResponse(success: true, into: &b)
        SOCKSUsernamePassword.writeResponse(success: false, into: &b)
        #expect(Array(b.readableBytesView) == [1, 0, 1, 1])
    }
}

@Suite struct ProxyResponseTests {
    @Test func aDefaultDenyNamesHostReasonAndThePendingQueue() {
        let r = ProxyResponse.forbidden(host: "nowhere.test", port: 80, rejectedBy: "default-deny", ruleID: nil,
                                        reason: "nowhere.test matches no allow rule", sandboxID: "sbx_a", joinsPending: true)
        #expect(r.status == 403)
        #expect(r.headers.contains { $0.0 == "X-Portcullis-Reason" && $0.1 == "default-deny" })
        #expect(r.body.contains("nowhere.test:80"))
        #expect(r.body.contains("[default-deny]"))
        #expect(r.body.contains("/api/v1/sandboxes/sbx_a/network/pending"))
        #expect(!r.body.contains("\n"))
    }

    @Test func aRuleRejectionNamesTheRule() {
        let r = ProxyResponse.forbidden(host: "denied.test", port: 443, rejectedBy: "rul_deny", ruleID: "rul_deny",
                                        reason: "denied\r\nInjected: yes", sandboxID: "sbx_a", joinsPending: false)
        #expect(r.body.contains("[rule rul_deny]"))
        #expect(!r.body.contains("\r") && !r.body.contains("\n"))
        var b = ByteBuffer()
        r.serialize(into: &b)
        #expect(String(buffer: b).hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
    }

    @Test func proxyAuthenticationAsksForBasic() {
        let r = ProxyResponse.proxyAuthenticationRequired()
        #expect(r.status == 407)
        #expect(r.headers.contains { $0.0 == "Proxy-Authenticate" && $0.1 == "Basic realm=\"portcullis\"" })
    }

    @Test func otherStatuses() {
        #expect(ProxyResponse.tooManyRequests(retryAfterSeconds: 2, limit: 5).headers.contains { $0 == ("Retry-After", "2") })
        #expect(ProxyResponse.headersTooLarge(limit: 10).status == 431)
        #expect(ProxyResponse.badRequest("x").status == 400)
        #expect(ProxyResponse.badGateway("x").status == 502)
        #expect(ProxyResponse.gatewayTimeout("x").status == 504)
    }
}

