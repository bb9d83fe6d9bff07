import PortcullisModel
import PortcullisPolicy
import Synchronization

/// Fans written audit events out to live subscribers (the SSE stream, `policy log`).
/// Each subscriber has a bounded buffer: a subscriber that cannot keep up loses the oldest
/// live lines (the audit log itself keeps every event) and is told how many.
public final class AuditBroadcaster: Sendable {
    /// What a subscriber receives.
    public enum Item: Sendable {
        case event(AuditEvent)
        /// Events this subscriber missed because it read too slowly.
        case dropped(Int)
        /// Nothing happened for a while; keeps proxies from closing the stream.
        case keepAlive
    }

    struct Subscriber {
        let tenantID: String
        let sandboxID: String?
        let action: String?
        let continuation: AsyncStream<Item>.Continuation
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)
    public let bufferSize: Int

    public init(bufferSize: Int = 1024) { self.bufferSize = bufferSize }

    /// The number of live subscribers.
    public var count: Int { subscribers.withLock { $0.count } }

    /// Delivers events (already stored, with ids) to matching subscribers.
    public func publish(_ events: [AuditEvent]) {
        let current = subscribers.withLock { Array($0.values) }
        guard !current.isEmpty else { return }
        for s in current {
            var dropped = 0
            for e in events where e.tenantID == s.tenantID && (s.sandboxID == nil || e.sandboxID == s.sandboxID)
                && (s.action == nil || e.action.rawValue == s.action) {
                if case .dropped = s.continuation.yield(.event(e)) { dropped += 1 }
            }
            if dropped > 0 { s.continuation.yield(.dropped(dropped)) }
        }
    }

    /// Ends every live stream (at shutdown, so open SSE responses complete).
    public func finishAll() {
        let all = subscribers.withLock { subs -> [Subscriber] in
            let values = Array(subs.values)
            subs.removeAll()
            return values
        }
        for s in all { s.continuation.finish() }
    }

    /// Sends a keep-alive to every subscriber.
    public func keepAlive() {
        for s in subscribers.withLock({ Array($0.values) }) { s.continuation.yield(.keepAlive) }
    }

    /// A live stream of one tenant's events, optionally for one sandbox and action. The
    /// subscription ends when the stream is dropped or cancelled.
    public func subscribe(tenantID: String, sandboxID: String?, action: String?) -> AsyncStream<Item> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        subscribers.withLock { $0[id] = Subscriber(tenantID: tenantID, sandboxID: sandboxID, action: action, continuation: continuation) }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        // The first bytes go out at once, so a client sees the stream open.
        continuation.yield(.keepAlive)
        return stream
    }
}

/// An audit repository that publishes what it writes to a broadcaster.
public struct BroadcastingAuditRepository: AuditRepository {
    public let base: any AuditRepository
    public let broadcaster: AuditBroadcaster

    public init(base: any AuditRepository, broadcaster: AuditBroadcaster) {
        self.base = base
        self.broadcaster = broadcaster
    }

    public func append(_ events: [AuditEvent]) async throws -> [AuditEvent] {
        let stored = try await base.append(events)
        broadcaster.publish(stored)
        return stored
    }

    public func query(_ query: AuditQuery) async throws -> AuditPage { try await base.query(query) }

    public func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] {
        try await base.tally(tenantID: tenantID, sandboxID: sandboxID, since: since)
    }

    public func deleteOlder(than cutoff: Timestamp) async throws -> Int { try await base.deleteOlder(than: cutoff) }

    public func count() async throws -> Int { try await base.count() }
}
