/// A bounded least-recently-used map, as a plain value: lookups mark an entry used, an
/// insert beyond `capacity` evicts the least recently used one. O(1) for each operation
/// (a dictionary into a doubly linked list kept in arrays, slots reused).
struct LRUCache<Key: Hashable, Value> {
    let capacity: Int
    private var slots: [Key: Int] = [:]
    private var keys: [Key?] = []
    private var values: [Value?] = []
    private var previous: [Int] = []
    private var next: [Int] = []
    private var free: [Int] = []
    /// Most and least recently used slots; -1 when empty.
    private var newest = -1
    private var oldest = -1

    init(capacity: Int) {
        precondition(capacity > 0, "an LRU cache holds at least one entry")
        self.capacity = capacity
    }

    var count: Int { slots.count }

    /// The value for `key`, now the most recently used; nil when absent.
    mutating func value(for key: Key) -> Value? {
        guard let slot = slots[key] else { return nil }
        touch(slot)
        return values[slot]
    }

    /// The value for `key` without marking it used.
    func peek(_ key: Key) -> Value? { slots[key].flatMap { values[$0] } }

    /// Sets `key`'s value (most recently used); returns the key evicted to make room, if any.
    @discardableResult
    mutating func set(_ value: Value, for key: Key) -> Key? {
        if let slot = slots[key] {
            values[slot] = value
            touch(slot)
            return nil
        }
        var evicted: Key?
        if slots.count >= capacity, oldest >= 0 {
            evicted = keys[oldest]
            if let evicted { removeValue(for: evicted) }
        }
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            keys[slot] = key
            values[slot] = value
        } else {
            slot = keys.count
            keys.append(key)
            values.append(value)
            previous.append(-1)
            next.append(-1)
        }
        slots[key] = slot
        linkAsNewest(slot)
        return evicted
    }

    mutating func removeValue(for key: Key) {
        guard let slot = slots.removeValue(forKey: key) else { return }
        unlink(slot)
        keys[slot] = nil
        values[slot] = nil
        free.append(slot)
    }

    private mutating func touch(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        linkAsNewest(slot)
    }

    private mutating func linkAsNewest(_ slot: Int) {
        previous[slot] = -1
        next[slot] = newest
        if newest >= 0 { previous[newest] = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let p = previous[slot], n = next[slot]
        if p >= 0 { next[p] = n } else { newest = n }
        if n >= 0 { previous[n] = p } else { oldest = p }
        previous[slot] = -1
        next[slot] = -1
    }
}
