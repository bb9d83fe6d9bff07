/// One host waiting for an operator's Allow or Block.
public struct PendingEntry: Hashable, Sendable {
    public let id: String
    public let host: String
    public let port: UInt16?
    public var count: Int
    public let firstSeen: Timestamp
    public var lastSeen: Timestamp

    public init(id: String, host: String, port: UInt16?, count: Int, firstSeen: Timestamp, lastSeen: Timestamp) {
        self.id = id
        self.host = host
        self.port = port
        self.count = count
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}

/// The pending queue of one sandbox, as a pure reducer (POLICY-MODEL.md, "Pending queue"):
/// in allowlist mode, a connection rejected because no rule matched adds or bumps its
/// `(host, port)`. The queue is bounded: when full, the least recently seen entry is dropped
/// and counted in `dropped`, so a flood of distinct names cannot grow it without limit.
/// The control plane stores the entries and applies the changes this returns.
public struct PendingQueue: Sendable {
    public static let defaultCapacity = 1000

    /// The sandbox whose queue this is (part of every entry's id).
    public let sandboxID: String
    public let capacity: Int
    public private(set) var entries: [PendingEntry]
    /// Entries dropped to stay within `capacity` since this queue was made.
    public private(set) var dropped: Int = 0

    public init(sandboxID: String = "", capacity: Int = PendingQueue.defaultCapacity, entries: [PendingEntry] = []) {
        precondition(capacity > 0, "a pending queue holds at least one entry")
        self.sandboxID = sandboxID
        self.capacity = capacity
        self.entries = entries
    }

    /// What one event did to the queue.
    public enum Change: Hashable, Sendable {
        case added(PendingEntry, evicted: PendingEntry?)
        case bumped(PendingEntry)
        /// The event does not join the queue (allowed, or rejected by a rule or the guard).
        case ignored
    }

    /// Applies one decision: only a default-deny rejection in allowlist mode joins.
    @discardableResult
    public mutating func apply(_ decision: Decision, port: UInt16?, at time: Timestamp) -> Change {
        guard decision.joinsPending else { return .ignored }
        return record(host: decision.host.description, port: port, at: time)
    }

    /// Adds `(host, port)` or bumps its count and last-seen time.
    @discardableResult
    public mutating func record(host: String, port: UInt16?, at time: Timestamp) -> Change {
        if let i = entries.firstIndex(where: { $0.host == host && $0.port == port }) {
            entries[i].count += 1
            if time > entries[i].lastSeen { entries[i].lastSeen = time }
            return .bumped(entries[i])
        }
        var evicted: PendingEntry?
        if entries.count >= capacity, let oldest = entries.indices.min(by: { entries[$0].lastSeen < entries[$1].lastSeen }) {
            evicted = entries.remove(at: oldest)
            dropped += 1
        }
        let id = PendingQueue.entryID(sandboxID: sandboxID, key: PendingQueue.key(host: host, port: port), firstSeen: time)
        let entry = PendingEntry(id: id, host: host, port: port, count: 1, firstSeen: time, lastSeen: time)
        entries.append(entry)
        return .added(entry, evicted: evicted)
    }

    /// Removes an entry (after Allow or Block) and returns it, or nil when there is none.
    public mutating func resolve(id: String) -> PendingEntry? {
        guard let i = entries.firstIndex(where: { $0.id == id }) else { return nil }
        return entries.remove(at: i)
    }

    /// The rule that resolving `entry` with `action` adds: an exact allow or deny rule for
    /// its host and port.
    public static func rule(resolving entry: PendingEntry, as action: RuleAction, id: String,
                            source: RuleSource) throws(RuleError) -> Rule {
        try RuleDraft(action: action.rawValue, host: entry.host, port: entry.port.map(Int.init),
                      note: "from the pending queue").validate(id: id, source: source)
    }

    /// The queue's key for `(host, port)`: what a new rejection is matched against to bump
    /// an entry, and what the store keeps per sandbox (`pnd_` and 16 hex digits of FNV-1a
    /// over `host:port`). Never shown: the same for every sandbox, so not an entry's id.
    public static func key(host: String, port: UInt16?) -> String {
        "pnd_" + fnv1a([Array(host.utf8), Array((port.map(String.init) ?? "*").utf8)], separator: 0x3A)
    }

    /// An entry's id: `pnd_` and 16 hex digits of FNV-1a over the sandbox id, the key and
    /// the time it was first seen. Unique per entry: the same host pending in two sandboxes
    /// has two ids, and a host pending again after it was resolved gets a new one, so an
    /// id names one entry of one sandbox (API.md: ids are opaque; derive nothing from them).
    public static func entryID(sandboxID: String, key: String, firstSeen: Timestamp) -> String {
        "pnd_" + fnv1a([Array(sandboxID.utf8), Array(key.utf8), Array(String(firstSeen.milliseconds).utf8)], separator: 0)
    }

    static func fnv1a(_ parts: [[UInt8]], separator: UInt8) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (i, part) in parts.enumerated() {
            if i > 0 { hash = (hash ^ UInt64(separator)) &* 0x0000_0100_0000_01B3 }
            for byte in part { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
