import NIOCore

/// DNS over TCP (RFC 1035 §4.2.2, RFC 7766 §8): every message is preceded by its length as
/// two bytes. Emits one message per frame; a frame shorter than a header, or longer than
/// `maxMessageSize`, is an error that closes the connection.
public struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public struct FrameError: Error, Hashable, CustomStringConvertible {
        public let length: Int
        public var description: String { "a DNS-over-TCP frame of \(length) bytes is out of bounds" }
    }

    public let maxMessageSize: Int

    public init(maxMessageSize: Int = 65535) { self.maxMessageSize = maxMessageSize }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        let n = Int(length)
        guard n >= DNSHeader.size, n <= maxMessageSize else { throw FrameError(length: n) }
        guard buffer.readableBytes >= 2 + n else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        guard let frame = buffer.readSlice(length: n) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// `message` with its two-byte length in front.
    public static func frame(_ message: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(message.readableBytes + 2)
        out.writeInteger(UInt16(clamping: message.readableBytes))
        var copy = message
        out.writeBuffer(&copy)
        return out
    }
}
