import NIOCore

/// Reads on every connection the gateway accepts or dials: NIO's adaptive sizes, starting
/// at 512 bytes instead of NIO's 2 KiB and allowed to grow to 256 KiB instead of 64 KiB.
///
/// NIO keeps a channel's last receive buffer for its next read, so the first size is what
/// an idle connection holds on each side (a request head or a TLS ClientHello fits in it;
/// a larger message costs one more read, after which the size has doubled). The maximum
/// makes a bulk transfer cost a quarter of the reads, wake-ups and writes per byte.
public enum TunnelReads {
    public static let allocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 256 * 1024)
}
