import Foundation
import PortcullisModel
import PortcullisPolicy

/// Counts the audit entries (the bench keeps none).
final class CountingAuditRepository: AuditRepository, @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    private var reflections = 0
    func written() -> Int { lock.withLock { total } }
    /// `credential-reflected` entries (a scrubbed response each).
    func reflected() -> Int { lock.withLock { reflections } }
    func append(_ events: [AuditEvent]) async throws -> [AuditEvent] {
        let found = events.filter { $0.rejectedBy == "credential-reflected" }.count
        lock.withLock { total += events.count; reflections += found }
        return events
    }
    func query(_ query: AuditQuery) async throws -> AuditPage { AuditPage(items: [], nextCursor: nil) }
    func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] { [] }
    func deleteOlder(than cutoff: Timestamp) async throws -> Int { 0 }
    func count() async throws -> Int { written() }
}
