import Foundation
import NIOCore
import PortcullisModel
import PortcullisPolicy
import Testing

/// A keep-alive connection keeps its last identity and its last decision for its next
/// request (`HTTPStreamHandler.authenticate`, `decide`) — only until a policy update: the
/// request after an update that leaves the connection open is identified and decided under
/// the new policy.
@Suite(.serialized) struct KeptConnectionPolicyTests {
    @Test func theRequestAfterAPolicyUpdateIsIdentifiedAndDecidedAnew() async throws {
        try await withHarness { h in
            let port = h.upstreams.plainPort
            let (channel, _, collector) = try await RawClient.open(port: h.httpPort)
            defer { channel.close(promise: nil) }
            func send(_ path: String) async throws {
                try await channel.writeAndFlush(ByteBuffer(string: "GET http://allowed.test:\(port)\(path) HTTP/1.1\r\n"
                    + "Host: allowed.test:\(port)\r\n" + AttackTests.auth + "\r\n"))
            }
            func responses(_ text: String) async throws -> Int {
                let got = try await channel.eventLoop.submit { String(buffer: collector.received) }.get()
                return got.components(separatedBy: text).count - 1
            }
            func waitFor(_ count: Int, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                // A deadline, not a number of sleeps: on a loaded machine (a build beside the
                // suite) sleeps run long and answers come late.
                let deadline = ContinuousClock.now + .seconds(20)
                while try await responses(text) < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(try await responses(text) == count, "\(count) × \(text)", sourceLocation: sourceLocation)
            }
            // Three requests on one connection: the third takes the identity and the decision kept.
            for i in 1...3 {
                try await send("/\(i)")
                try await waitFor(i, "upstream plain GET /")
            }
            // Version 2: the host is warn-only (its kept upstream still passes: the connection stays).
            var rules = Fixtures.rules
            rules[0] = Fixtures.rule("rul_allow", .allow, "allowed.test", warnOnly: true)
            h.gateway.registry.update(Fixtures.snapshot(version: 2, rules: rules))
            try await send("/4")
            try await waitFor(4, "upstream plain GET /")
            let fourth = try #require(await h.event { $0.path == "/4" })
            #expect(fourth.action == .warn && fourth.policyVersion == 2, "\(fourth)")
            // Version 3: another token for the sandbox: the header the connection used is refused.
            let policy = CompiledPolicy(mode: .allowlist, rules: rules, version: 3, addressGuard: Fixtures.exemptLoopback)
            h.gateway.registry.update(GatewaySnapshot(version: 3, sandboxes: [
                Fixtures.sandboxID: SandboxPolicy(sandboxID: Fixtures.sandboxID, tenantID: Fixtures.tenantID,
                                                  proxyToken: "tok_another_secret", policy: policy),
            ], bySourceAddress: [:]))
            try await send("/5")
            try await waitFor(1, "407")
            #expect(h.upstreams.received.requests.filter { $0.uri.hasPrefix("/5") }.isEmpty)
            let fifth = try #require(await h.event { $0.rejectedBy == "proxy-auth" })
            #expect(fifth.status == 407)
        }
    }
}
