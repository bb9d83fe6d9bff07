import PortcullisModel
import PortcullisPolicy
import Synchronization

/// An in-memory audit log for the tests.
final class MemoryAuditRepository: AuditRepository {
    let events = Mutex<[AuditEvent]>([])
    let pending = Mutex<[AuditEvent]>([])

    func append(_ batch: [AuditEvent]) async throws -> [AuditEvent] {
        events.withLock { all in
            var out: [AuditEvent] = []
            for var e in batch {
                e.id = "aud_\(all.count + 1)"
                all.append(e)
                out.append(e)
            }
            return out
        }
    }

    func query(_ query: AuditQuery) async throws -> AuditPage {
        AuditPage(items: events.withLock { $0.reversed() }, nextCursor: nil)
    }

    func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] { [] }
    func deleteOlder(than cutoff: Timestamp) async throws -> Int { 0 }
    func count() async throws -> Int { events.withLock { $0.count } }

    var all: [AuditEvent] { events.withLock { $0 } }
}
