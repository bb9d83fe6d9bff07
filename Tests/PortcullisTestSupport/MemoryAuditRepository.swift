import PortcullisModel
import PortcullisPolicy
import Synchronization

/// An in-memory audit log for tests; `changes` is notified at every append and pending
/// entry, so a test waits for an entry instead of polling for it.
public final class MemoryAuditRepository: AuditRepository {
    public let events = Mutex<[AuditEvent]>([])
    public let pendingEvents = Mutex<[AuditEvent]>([])
    public let changes = ChangeSignal()

    public init() {}

    public func append(_ batch: [AuditEvent]) async throws -> [AuditEvent] {
        let written = events.withLock { all in
            var out: [AuditEvent] = []
            for var e in batch {
                e.id = "aud_\(all.count + 1)"
                all.append(e)
                out.append(e)
            }
            return out
        }
        changes.notify()
        return written
    }

    /// What the gateway's pending recorder hands over.
    public func recordPending(_ event: AuditEvent) {
        pendingEvents.withLock { $0.append(event) }
        changes.notify()
    }

    public func query(_ query: AuditQuery) async throws -> AuditPage {
        AuditPage(items: events.withLock { $0.reversed() }, nextCursor: nil)
    }

    public func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] { [] }
    public func deleteOlder(than cutoff: Timestamp) async throws -> Int { 0 }
    public func count() async throws -> Int { events.withLock { $0.count } }

    public var all: [AuditEvent] { events.withLock { $0 } }
    public var pending: [AuditEvent] { pendingEvents.withLock { $0 } }

    /// The first entry matching `predicate`, waiting up to `timeout` for the writer.
    public func first(timeout: Duration = .seconds(5), where predicate: (AuditEvent) -> Bool) async -> AuditEvent? {
        var found: AuditEvent?
        _ = await changes.wait(timeout: timeout) {
            found = all.first(where: predicate)
            return found != nil
        }
        return found
    }

    /// The entries matching `predicate` once there are at least `count` (or what there is
    /// when `timeout` passes).
    public func matching(count: Int, timeout: Duration = .seconds(5), where predicate: (AuditEvent) -> Bool) async -> [AuditEvent] {
        var found: [AuditEvent] = []
        _ = await changes.wait(timeout: timeout) {
            found = all.filter(predicate)
            return found.count >= count
        }
        return found
    }
}
