import NIOCore
import PortcullisPolicy

/// Reads on both sides of a tunnel: NIO's adaptive sizes (they start at 2 KiB, so an idle
/// tunnel stays small) allowed to grow to 256 KiB instead of 64 KiB, so a bulk transfer
/// costs a quarter of the reads, wake-ups and writes per byte.
public enum TunnelReads {
    public static let allocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 * 1024)
}

/// Turns a client channel and a connected upstream into a checked tunnel:
/// client → [glue, holding the first bytes until checked] ⇄ [glue] ← upstream.
/// The upstream starts reading at once (server-first protocols); the client's first bytes
/// are held until checked (`FirstBytesHold`, run inside the client glue, which also keeps
/// the idle timeout: one handler per channel, nothing added or removed later). The audit
/// event is written when the client channel closes. `checkFirstBytes: false` leaves the
/// check out: the transparent listener's own handler, already in the pipeline, checks them
/// (it may re-decide the target).
enum Tunnel {
    static func install(client: any Channel, upstream: any Channel, record: AttemptRecord, sandbox: SandboxContext,
                        target: Target, address: IPAddress, gate: any EgressGate, checkFirstBytes: Bool = true) throws {
        let settings = gate.settings
        let hold = !checkFirstBytes ? nil : FirstBytesHold(check: TunnelCheck(host: target.host, maxHeldBytes: settings.maxHeldBytes),
                                  record: record, sandbox: sandbox, target: target, timeout: settings.firstBytesTimeout)
        // Traffic either way counts for the idle timeout: reads on the client, and writes
        // to it (upstream bytes).
        let (clientGlue, upstreamGlue) = GlueHandler.checkedPair(
            up: { [record] n in record.event.bytesUp += Int64(n) },
            down: { [record] n in record.event.bytesDown += Int64(n) },
            hold: hold, idleTimeout: settings.tunnelIdleTimeout)
        // Half-close travels through the tunnel (HTTP connections close on EOF instead).
        try client.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        try client.syncOptions?.setOption(ChannelOptions.recvAllocator, value: TunnelReads.allocator)
        try client.pipeline.syncOperations.addHandler(clientGlue)
        try upstream.pipeline.syncOperations.addHandler(upstreamGlue)

        let bound = NIOLoopBound((record, client), eventLoop: client.eventLoop)
        let clientLoop = client.eventLoop
        let live = LiveConnection(sandboxID: sandbox.sandboxID, target: target, address: address, isTunnel: true,
                                  decidedUnder: sandbox.policy.version) { decision in
            clientLoop.execute {
                let (record, client) = bound.value
                record.event.reason += "; closed because policy version \(decision.policyVersion) rejects it: \(decision.reason)"
                client.close(promise: nil)
            }
        }
        record.live = live
        gate.track(live)
        client.closeFuture.whenComplete { _ in
            let (record, _) = bound.value
            record.finish()
            upstream.close(promise: nil)
        }
        // Same event loop: set synchronously (no future per tunnel).
        if let options = upstream.syncOptions {
            do { try options.setOption(ChannelOptions.autoRead, value: true) } catch { upstream.close(promise: nil) }
        } else {
            upstream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in upstream.close(promise: nil) }
        }
    }
}
