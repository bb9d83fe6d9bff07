import Synchronization

/// The live audit streams each API key holds, bounded by
/// `APIListenerLimits.maxStreamsPerKey`. A slot is held by a `Slot` value for as long as
/// the stream's body exists: however the stream ends (the client leaves and the next
/// keep-alive fails, the server shuts down), dropping the body gives the slot back.
final class StreamSlots: Sendable {
    let limit: Int
    private let held = Mutex<[String: Int]>([:])

    init(limit: Int) { self.limit = max(1, limit) }

    /// A slot for `key`, or nil when the key already holds `limit` streams.
    func take(key: String) -> Slot? {
        let granted = held.withLock { counts -> Bool in
            guard counts[key, default: 0] < limit else { return false }
            counts[key, default: 0] += 1
            return true
        }
        return granted ? Slot(owner: self, key: key) : nil
    }

    /// Streams `key` holds now.
    func count(key: String) -> Int { held.withLock { $0[key] ?? 0 } }

    fileprivate func release(_ key: String) {
        held.withLock { counts in
            let n = counts[key, default: 0] - 1
            counts[key] = n > 0 ? n : nil
        }
    }

    /// One held stream; its deinit gives the slot back.
    final class Slot: Sendable {
        let owner: StreamSlots
        let key: String

        fileprivate init(owner: StreamSlots, key: String) {
            self.owner = owner
            self.key = key
        }

        deinit { owner.release(key) }
    }
}
