import Logging
import PortcullisControl
import PortcullisModel
import PortcullisStore
import ServiceLifecycle
import Synchronization

/// Keeps this node's policy caught up with the database (FLEET.md, "Propagation"): a
/// dedicated `LISTEN` connection whose notifications ring the doorbell, a safety poll every
/// `interval`, and one applier that reads the change log by version on every ring. The
/// doorbell reconnects after a lost connection (backing off to 2 s) and catches up once
/// it listens again, so nothing committed meanwhile is missed.
struct PolicySyncService: Service {
    let control: ControlPlane
    /// nil on SQLite (one node) or when listening is switched off: the poll alone.
    let doorbell: PostgresDoorbell?
    let interval: Duration
    let status: FleetStatus
    let logger: Logger

    func run() async throws {
        let (rings, ring) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if let doorbell {
                    group.addTask { await listen(doorbell, ring: ring) }
                }
                group.addTask { await poll(ring: ring) }
                group.addTask { await apply(rings) }
            }
        }
        ring.finish()
    }

    /// One catch-up per ring (rings that come while one runs collapse into the next).
    private func apply(_ rings: AsyncStream<Void>) async {
        for await _ in rings {
            do {
                let applied = try await control.catchUp()
                status.recordApplied(applied)
                status.caughtUp(true)
            } catch {
                if Task.isCancelled { return }
                status.caughtUp(false)
                logger.warning("policy catch-up failed; keeping the last applied policy", metadata: ["error": "\(error)"])
            }
        }
    }

    private func poll(ring: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            // While something is wrong, look again sooner than the safety interval.
            let healthy = status.reportedState == .up
            do { try await Task.sleep(for: healthy ? interval : min(interval, .milliseconds(500))) } catch { return }
            ring.yield()
        }
    }

    private func listen(_ doorbell: PostgresDoorbell, ring: AsyncStream<Void>.Continuation) async {
        var backoff: Duration = .milliseconds(100)
        let connected = Flag()
        while !Task.isCancelled {
            connected.set(false)
            do {
                try await doorbell.listen(onListening: {
                    connected.set(true)
                    status.setListening(true)
                    logger.info("listening for policy changes")
                    ring.yield()
                }, onRing: { _ in ring.yield() })
            } catch {
                if Task.isCancelled { break }
                status.syncError()
                logger.warning("policy listener lost; reconnecting", metadata: ["error": "\(error)"])
            }
            status.setListening(false)
            if Task.isCancelled { break }
            if connected.value { backoff = .milliseconds(100) }
            do { try await Task.sleep(for: backoff) } catch { break }
            backoff = min(backoff * 2, .seconds(2))
        }
    }
}

/// A thread-safe boolean.
final class Flag: Sendable {
    private let state = Mutex(false)
    var value: Bool { state.withLock { $0 } }
    func set(_ value: Bool) { state.withLock { $0 = value } }
}
