import PortcullisModel
import PortcullisPolicy

extension InMemoryStore {
    // MARK: Pending queue

    public func addPending(sandboxID: String, host: String, port: UInt16?, at time: Timestamp,
                           capacity: Int) async throws -> (entry: PendingEntry, evicted: Int) {
        guard sandboxesByID[sandboxID] != nil else { throw StoreError.unknownSandbox(sandboxID) }
        // Keyed by `PendingQueue.key` (host and port); entries carry their own unique ids.
        var queue = pendingBySandbox[sandboxID] ?? [:]
        let key = PendingQueue.key(host: host, port: port)
        if var entry = queue[key] {
            entry.count += 1
            if time > entry.lastSeen { entry.lastSeen = time }
            queue[key] = entry
            pendingBySandbox[sandboxID] = queue
            return (entry, 0)
        }
        let excess = queue.count - max(capacity, 1) + 1
        if excess > 0 {
            for old in queue.values.sorted(by: PendingEntry.evictionOrder).prefix(excess) { queue[old.key] = nil }
        }
        let id = PendingQueue.entryID(sandboxID: sandboxID, key: key, firstSeen: time)
        let entry = PendingEntry(id: id, host: host, port: port, count: 1, firstSeen: time, lastSeen: time)
        queue[key] = entry
        pendingBySandbox[sandboxID] = queue
        return (entry, max(excess, 0))
    }

    public func pending(sandboxID: String) async throws -> [PendingEntry] {
        (pendingBySandbox[sandboxID] ?? [:]).values.sorted(by: PendingEntry.listOrder)
    }

    public func removePending(sandboxID: String, id: String) async throws -> PendingEntry? {
        guard let entry = pendingBySandbox[sandboxID]?.values.first(where: { $0.id == id }) else { return nil }
        return pendingBySandbox[sandboxID]?.removeValue(forKey: entry.key)
    }

    // MARK: Audit

    public func append(_ events: [AuditEvent]) async throws -> [AuditEvent] {
        var out: [AuditEvent] = []
        out.reserveCapacity(events.count)
        for var event in events {
            lastAuditNumber += 1
            event.id = AuditCursor.eventID(lastAuditNumber)
            out.append(event)
            // `joinsPending` is not an audit column, so it never reads back.
            event.joinsPending = false
            audit.append((lastAuditNumber, event))
        }
        return out
    }

    public func query(_ query: AuditQuery) async throws -> AuditPage {
        var upper = Int64.max
        switch query.cursorState {
        case .none: break
        case .below(let n): upper = n
        case .invalid: return AuditPage(items: [], nextCursor: nil)
        }
        let size = query.pageSize
        var items: [AuditEvent] = []
        var lastNumber: Int64 = 0
        var more = false
        for (number, event) in audit.reversed() where number < upper && query.admits(event) {
            if items.count == size {
                more = true
                break
            }
            items.append(event)
            lastNumber = number
        }
        return AuditPage(items: items, nextCursor: more ? AuditCursor(lastID: lastNumber).description : nil)
    }

    public func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] {
        var counts: [Suggestions.HostPortKey: Int] = [:]
        for (_, e) in audit where e.tenantID == tenantID && e.sandboxID == sandboxID && e.time >= since {
            counts[Suggestions.HostPortKey(host: e.host, port: e.port), default: 0] += 1
        }
        return counts.map { Suggestions.Tally(host: $0.key.host, port: $0.key.port.flatMap(UInt16.init(exactly:)), count: $0.value) }
            .sortedForOutput()
    }

    public func deleteOlder(than cutoff: Timestamp) async throws -> Int {
        let before = audit.count
        audit.removeAll { $0.event.time < cutoff }
        return before - audit.count
    }

    public func count() async throws -> Int { audit.count }
}

extension Suggestions {
    /// A `(host, port)` group key as the SQL `GROUP BY host, port` sees it.
    struct HostPortKey: Hashable {
        let host: String
        let port: Int?
    }
}

extension AuditQuery {
    /// Whether `event` passes every filter of the query (the in-memory `WHERE`).
    func admits(_ event: AuditEvent) -> Bool {
        guard event.tenantID == tenantID else { return false }
        if let sandboxID, event.sandboxID != sandboxID { return false }
        if let action, event.action.rawValue != action { return false }
        if let host, event.host != host { return false }
        if let since, event.time < since { return false }
        if let until, event.time > until { return false }
        return true
    }
}

extension PendingEntry {
    /// Most recently seen first, then by key.
    static func listOrder(_ a: PendingEntry, _ b: PendingEntry) -> Bool {
        a.lastSeen != b.lastSeen ? a.lastSeen > b.lastSeen : a.key < b.key
    }

    /// Least recently seen first (the next to drop), then oldest first seen, then by key
    /// (as the SQL store breaks ties).
    static func evictionOrder(_ a: PendingEntry, _ b: PendingEntry) -> Bool {
        if a.lastSeen != b.lastSeen { return a.lastSeen < b.lastSeen }
        if a.firstSeen != b.firstSeen { return a.firstSeen < b.firstSeen }
        return a.key < b.key
    }

    /// The queue key (the SQL store's `pending.id` column).
    var key: String { PendingQueue.key(host: host, port: port) }
}
