import NIOCore
import NIOEmbedded
import PortcullisPolicy
import Testing
@testable import PortcullisProxy

/// A forward keep-alive connection keeps its last identity and name-stage decision only
/// while no policy update happened (`SandboxDirectory.generation`): a new generation decides
/// again even when the sandbox's policy kept its version number.
@Suite struct KeptDecisionTests {
    @Test func aNewGenerationDecidesAgainUnderTheSameVersion() throws {
        let gate = FakeGate()
        gate.generation = 1
        let channel = try gate.forwardChannel()
        let request = "GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n" + credentials + "\r\n"
        try channel.writeInbound(ByteBuffer(string: request))
        let upstream = try #require(gate.upstreams.first)
        // Two allowed requests: the second goes to the kept upstream and its decision is kept.
        for _ in 0..<2 {
            _ = try upstream.outboundText()
            try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
            #expect(try channel.outboundText().hasPrefix("HTTP/1.1 200 OK\r\n"))
            if gate.events.count == 1 { try channel.writeInbound(ByteBuffer(string: request)) }
        }
        #expect(gate.upstreams.count == 1 && gate.events.count == 2)

        // The rules now deny the same target under the same version number; a new generation.
        gate.policy = CompiledPolicy(mode: .allowlist,
                                     rules: [Rule(id: "rul_now_denied", action: .deny, host: try HostParser.parsePattern("allowed.test"))],
                                     version: 7, addressGuard: AddressGuard(exemptions: [try HostParser.parseNetwork("127.0.0.0/8")]))
        gate.generation = 2
        try channel.writeInbound(ByteBuffer(string: request))
        let out = try channel.outboundText()
        #expect(out.hasPrefix("HTTP/1.1 403 Forbidden\r\n"), "\(out)")
        #expect(out.contains("X-Portcullis-Reason: rul_now_denied\r\n"))
        #expect(gate.events.count == 3 && gate.events[2].rejectedBy == "rul_now_denied")
        #expect(try upstream.outboundText() == "", "nothing of the second request went upstream")
        _ = try? channel.finish()
    }
}
