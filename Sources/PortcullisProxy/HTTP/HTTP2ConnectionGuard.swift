import NIOCore

/// Bounds a terminated HTTP/2 connection below NIOHTTP2 (between the TLS bridge and the
/// HTTP/2 handler, on plaintext bytes):
/// - it reads only while the client takes what is written. Frames that need an answer
///   (PING, SETTINGS) from a client that never reads would otherwise grow the connection's
///   pending writes without bound; held reads leave the client's bytes in the kernel.
/// - once a GOAWAY has gone out, the connection closes. NIOHTTP2 answers a connection
///   error (a CONTINUATION flood, a protocol error) with a GOAWAY and reports the error,
///   but keeps the channel open, and every further frame draws another GOAWAY.
final class HTTP2ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var readHeld = false
    private var frames = HTTP2FrameBoundaries()
    private var goAwaySent = false

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if readHeld, context.channel.isWritable {
            readHeld = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !goAwaySent, frames.scan(unwrapOutboundIn(data)) { goAwaySent = true }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
        if goAwaySent { context.close(promise: nil) }
    }
}

/// Frame boundaries in an outbound HTTP/2 byte stream (a server's: no preface magic), fed
/// in whatever pieces it is written: only the 9-byte frame headers are looked at, and a
/// payload is skipped by its length.
struct HTTP2FrameBoundaries {
    /// Bytes of the current frame header seen (0–8), its length and type so far.
    private var headerSeen = 0
    private var length = 0
    private var type: UInt8 = 0
    /// Payload bytes of the current frame still to skip.
    private var remaining = 0

    static let goAwayType: UInt8 = 7

    /// Consumes `buffer`; whether a GOAWAY frame's header was completed in it.
    mutating func scan(_ buffer: ByteBuffer) -> Bool {
        var found = false
        buffer.withUnsafeReadableBytes { bytes in
            var i = 0
            while i < bytes.count {
                if remaining > 0 {
                    let skip = min(remaining, bytes.count - i)
                    remaining -= skip
                    i += skip
                    continue
                }
                let byte = bytes[i]
                i += 1
                switch headerSeen {
                case 0...2: length = length << 8 | Int(byte)
                case 3: type = byte
                default: break
                }
                headerSeen += 1
                if headerSeen == 9 {
                    if type == Self.goAwayType { found = true }
                    remaining = length
                    headerSeen = 0
                    length = 0
                }
            }
        }
        return found
    }
}
