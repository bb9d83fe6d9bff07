import NIOCore
import NIOEmbedded
import Testing
@testable import PortcullisProxy

/// Counts the reads that reach the socket (first in the pipeline).
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// A relaying tunnel stops reading its client while the upstream cannot take more, and
/// reads again once it can: what a client sends is never buffered without bound.
@Suite struct TunnelBackPressureTests {
    @Test func theClientIsNotReadWhileTheUpstreamIsNotWritable() throws {
        let gate = FakeGate()
        let channel = try gate.forwardChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter, position: .first)
        try channel.writeInbound(ByteBuffer(string: "CONNECT allowed.test:22 HTTP/1.1\r\n" + credentials + "\r\nSSH-2.0-client\r\n"))
        channel.embeddedEventLoop.run()
        let upstream = try #require(gate.upstreams.first)
        #expect(try upstream.outboundText() == "SSH-2.0-client\r\n", "relaying")

        let before = counter.reads
        channel.read()
        #expect(counter.reads == before + 1, "reads go on while the upstream takes more")

        upstream.isWritable = false
        upstream.pipeline.fireChannelWritabilityChanged()
        channel.read()
        #expect(counter.reads == before + 1, "held while the upstream's buffer is full")

        upstream.isWritable = true
        upstream.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == before + 2, "the held read goes on once the upstream drained")
    }
}
