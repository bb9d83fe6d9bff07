import Foundation
import NIOCore
import PortcullisTestSupport
import Testing

/// Thousands of random and truncated inputs at both listeners; afterwards a normal request
/// still works and no connection is left open.
@Suite(.serialized) struct FuzzIntegrationTests {
    static func inputs(h: Harness, count: Int) throws -> [(port: Int, bytes: [UInt8])] {
        var rng = SystemRandomNumberGenerator()
        let hello = try fixture("clienthello-sni-tls.test.bin")
        let heads: [[UInt8]] = [
            "GET http://allowed.test:\(h.upstreams.plainPort)/ HTTP/1.1\r\nHost: allowed.test:\(h.upstreams.plainPort)\r\nProxy-Authorization: Basic \(basic(h.proxyUser))\r\n\r\n".bytes,
            connectHead("tls.test:\(h.upstreams.tlsPort)", user: h.proxyUser).bytes,
            connectHead("tls.test:\(h.upstreams.tlsPort)", user: h.proxyUser).bytes + hello,
            "POST http://allowed.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nzz\r\n".bytes,
            "GET / HTTP/1.1\r\n\r\n".bytes,
        ]
        let socks: [[UInt8]] = [
            socksHello() + socksRequest(domain: "allowed.test", port: h.upstreams.plainPort),
            socksHello() + socksRequest(domain: "tls.test", port: h.upstreams.tlsPort) + hello,
            [5, 255] + [UInt8](repeating: 2, count: 255),
            [5, 1, 2, 1, 0, 0],
        ]
        var out: [(Int, [UInt8])] = []
        for i in 0..<count {
            let toSOCKS = i % 2 == 1
            var bytes = (toSOCKS ? socks : heads)[Int.random(in: 0..<(toSOCKS ? socks.count : heads.count), using: &rng)]
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))  // truncated
            case 1:  // mutated
                for _ in 0..<Int.random(in: 1...8, using: &rng) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 2: bytes = (0..<Int.random(in: 1...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            default: break  // as is
            }
            out.append((toSOCKS ? h.socksPort : h.httpPort, bytes))
        }
        return out
    }

    @Test func hostileInputLeavesTheGatewayServingAndEmpty() async throws {
        try await withHarness(configure: {
            $0.proxy.firstBytesTimeout = .milliseconds(300)
            $0.proxy.headTimeout = .milliseconds(300)
            $0.proxy.idleTimeout = .milliseconds(500)
        }) { h in
            let inputs = try Self.inputs(h: h, count: 3000)
            var index = 0
            while index < inputs.count {
                let batch = inputs[index..<min(index + 50, inputs.count)]
                await withTaskGroup(of: Void.self) { group in
                    for input in batch {
                        group.addTask {
                            _ = try? await RawClient.exchangeBytes(port: input.port, [input.bytes], timeout: .seconds(2),
                                                                   halfClose: true)
                        }
                    }
                }
                index += 50
            }
            #expect(await h.waitForNoConnections(seconds: 5) == 0)
            #expect(h.gateway.registry.liveCount == 0)
            #expect(h.gateway.connections(of: Fixtures.sandboxID) == 0)
            let r = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser,
                                    "http://allowed.test:\(h.upstreams.plainPort)/after"])
            #expect(r.stdout.hasPrefix("upstream plain GET /after"))
        }
    }
}
