import NIOCore

/// Reads on both sides of a tunnel: NIO's adaptive sizes (they start at 2 KiB, so an idle
/// tunnel stays small) allowed to grow to 256 KiB instead of 64 KiB, so a bulk transfer
/// costs a quarter of the reads, wake-ups and writes per byte.
public enum TunnelReads {
    public static let allocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 * 1024)
}
