import Logging
import PortcullisControl
import PortcullisModel
import ServiceLifecycle

/// Feeds the live log (`/api/v1/audit/stream`) with the traffic of the fleet's other nodes
/// (this node's own events reach it as they are written): while anyone is subscribed, it
/// reads the audit table after the last event it saw, every 250 ms.
///
/// Note to maintainers: audit ids come from one sequence but transactions commit in any
/// order, so a smaller id may become visible after a larger one. Ids seen are remembered
/// for `settle`; the floor the query starts from only passes an id once everything below
/// it had that long to appear. An event whose transaction took longer than that to commit
/// is in the audit log but may be missing from the live stream.
struct AuditTailService: Service {
    let store: any Store
    let broadcaster: AuditBroadcaster
    let nodeID: @Sendable () -> String
    let logger: Logger
    var interval: Duration = .milliseconds(250)
    var settle: Duration = .seconds(2)

    func run() async throws {
        await cancelWhenGracefulShutdown { await tail() }
    }

    private func tail() async {
        let clock = ContinuousClock()
        var floor: Int64?
        var seen: [Int64: ContinuousClock.Instant] = [:]
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            do {
                guard let start = floor else {
                    floor = try await store.newestAuditNumber()
                    continue
                }
                guard broadcaster.count > 0 else {
                    // Nobody watches: skip ahead, so a new subscriber sees only what comes next.
                    floor = try await store.newestAuditNumber()
                    seen = [:]
                    continue
                }
                let rows = try await store.auditTail(after: start, limit: 2_000)
                let now = clock.now, me = nodeID()
                var fresh: [AuditEvent] = []
                for row in rows where seen[row.number] == nil {
                    seen[row.number] = now
                    // This node's own events reached the stream when they were written.
                    if row.node != me { fresh.append(row.event) }
                }
                if !fresh.isEmpty { broadcaster.publish(fresh) }
                // Move the floor up to the highest id below which every id seen has settled.
                var newFloor = start
                for number in seen.keys.sorted() {
                    guard let at = seen[number], now - at >= settle else { break }
                    newFloor = number
                    seen[number] = nil
                }
                if rows.count >= 2_000, let last = rows.last?.number, seen.count > 20_000 {
                    // Far behind (a burst): jump rather than hold an ever larger window.
                    newFloor = max(newFloor, last)
                    seen = seen.filter { $0.key > last }
                }
                floor = newFloor
            } catch {
                if Task.isCancelled { return }
                logger.debug("audit tail read failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
