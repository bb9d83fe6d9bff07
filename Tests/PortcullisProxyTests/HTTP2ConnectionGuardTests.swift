import NIOCore
import NIOEmbedded
import Testing
@testable import PortcullisProxy

/// The terminated HTTP/2 connection's guard: reads held while the client does not read,
/// and a close once a GOAWAY has gone out.
@Suite struct HTTP2ConnectionGuardTests {
    /// A frame: 24-bit length, type, flags, stream id, payload.
    static func frame(type: UInt8, stream: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff), type, 0,
                UInt8(stream >> 24), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)] + payload
    }

    @Test func aGoAwayIsFoundWhereverTheWritesSplitTheStream() {
        // SETTINGS, a DATA frame whose payload holds GOAWAY-looking bytes, then a GOAWAY.
        let data = Self.frame(type: 0, stream: 1, payload: Self.frame(type: 7, payload: [0, 0, 0, 0, 0, 0, 0, 1]) + [7, 7, 7])
        let stream = Self.frame(type: 4, payload: []) + data + Self.frame(type: 7, payload: [0, 0, 0, 0, 0, 0, 0, 11])
        let goAwayEnd = stream.count - 8  // the GOAWAY's header ends here
        for size in [1, 2, 5, 9, 10, 17, stream.count] {
            var boundaries = HTTP2FrameBoundaries()
            var foundAt: Int?
            for start in stride(from: 0, to: stream.count, by: size) {
                let end = min(start + size, stream.count)
                if boundaries.scan(ByteBuffer(bytes: stream[start..<end])), foundAt == nil { foundAt = end }
            }
            #expect(foundAt != nil && foundAt! >= goAwayEnd && foundAt! - size < goAwayEnd, "pieces of \(size)")
        }
        var quiet = HTTP2FrameBoundaries()
        let found = quiet.scan(ByteBuffer(bytes: Self.frame(type: 4, payload: []) + data + Self.frame(type: 6, payload: Array(repeating: 7, count: 8))))
        #expect(!found)
    }

    @Test func theConnectionClosesOnceAGoAwayIsFlushed() throws {
        let channel = EmbeddedChannel(handler: HTTP2ConnectionGuard())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeAndFlush(ByteBuffer(bytes: Self.frame(type: 6, payload: Array(repeating: 7, count: 8)))).wait()
        #expect(channel.isActive)
        channel.write(ByteBuffer(bytes: Self.frame(type: 7, payload: [0, 0, 0, 0, 0, 0, 0, 11])), promise: nil)
        #expect(channel.isActive, "closed only after the flush")
        channel.flush()
        #expect(!channel.isActive)
        let sent = try channel.readOutbound(as: ByteBuffer.self)
        #expect(sent?.readableBytes == 17)
    }

    @Test func readsWaitWhileTheClientDoesNotTakeWhatIsWritten() throws {
        let counter = ReadCounter()
        let channel = EmbeddedChannel(handlers: [counter, HTTP2ConnectionGuard()])
        channel.read()
        #expect(counter.reads == 1)
        channel.isWritable = false
        channel.read()
        channel.read()
        #expect(counter.reads == 1, "held while not writable")
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == 1)
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == 2, "one held read resumes")
        _ = try? channel.finish()
    }
}
