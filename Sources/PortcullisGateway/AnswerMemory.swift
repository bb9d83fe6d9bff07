import PortcullisPolicy
import Synchronization

/// What the DNS gateway handed out to each sandbox: for every name it answered, the
/// addresses and until when they are valid (the answer's TTL). The transparent listener
/// reads it to attribute a raw-address connection to the name that produced it, and to
/// check that an SNI or Host name really resolves to the address dialled.
///
/// Bounded: at most `maxEntriesPerSandbox` (name, address) pairs per sandbox and
/// `maxSandboxes` sandboxes. A book that outgrows its bound drops its expired pairs, then
/// the ones that expire first, down to three quarters of the bound (so pruning, which
/// sorts the book, happens once per quarter-bound of new pairs, not on every answer).
/// Expired entries are never returned. Thread-safe; every call takes `now` (no clock
/// inside). Books are changed in place: one answer costs its own pairs, not a copy of
/// the book.
public final class AnswerMemory: Sendable {
    struct Entry: Sendable {
        var name: DomainName
        var expires: Timestamp
    }

    struct Book: Sendable {
        /// address → (name → expiry): one address may be handed out for several names.
        var byAddress: [IPAddress: [DomainName: Timestamp]] = [:]
        /// name → (address → expiry).
        var byName: [DomainName: [IPAddress: Timestamp]] = [:]
        var count = 0
    }

    public let maxEntriesPerSandbox: Int
    public let maxSandboxes: Int
    private let books = Mutex<[String: Book]>([:])

    public init(maxEntriesPerSandbox: Int = 8192, maxSandboxes: Int = 4096) {
        self.maxEntriesPerSandbox = max(1, maxEntriesPerSandbox)
        self.maxSandboxes = max(1, maxSandboxes)
    }

    /// Remembers that `name` was answered with `addresses` for `sandboxID`, valid for
    /// `ttlSeconds` from `now` (a TTL of 0 is remembered for one second, so the
    /// connection that follows the answer can still be attributed).
    public func remember(sandboxID: String, name: DomainName, addresses: [IPAddress], ttlSeconds: UInt32, now: Timestamp) {
        guard !addresses.isEmpty else { return }
        let expires = now.adding(milliseconds: Int64(max(ttlSeconds, 1)) * 1000)
        books.withLock { books in
            if books[sandboxID] == nil, books.count >= maxSandboxes {
                // Forget the sandbox whose book is emptiest; a full table never grows.
                if let victim = books.min(by: { $0.value.count < $1.value.count })?.key { books[victim] = nil }
            }
            if books[sandboxID] == nil { books[sandboxID] = Book() }
            Self.insert(name, addresses: addresses, expires: expires, into: &books[sandboxID]!)
            if books[sandboxID]!.count > maxEntriesPerSandbox {
                Self.prune(&books[sandboxID]!, now: now, limit: maxEntriesPerSandbox - maxEntriesPerSandbox / 4)
            }
        }
    }

    private static func insert(_ name: DomainName, addresses: [IPAddress], expires: Timestamp, into book: inout Book) {
        for address in addresses {
            let previous = book.byAddress[address, default: [:]].updateValue(expires, forKey: name)
            book.byName[name, default: [:]][address] = expires
            if previous == nil { book.count += 1 }
        }
    }

    /// The name most recently valid for `address` in this sandbox's answers (the one that
    /// expires last when several names share the address), or nil.
    public func name(for address: IPAddress, sandboxID: String, now: Timestamp) -> DomainName? {
        books.withLock { books in
            guard let names = books[sandboxID]?.byAddress[address] else { return nil }
            return names.filter { $0.value > now }.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) })?.key
        }
    }

    /// The unexpired addresses handed out for `name` in this sandbox.
    public func addresses(for name: DomainName, sandboxID: String, now: Timestamp) -> Set<IPAddress> {
        books.withLock { books in
            guard let addresses = books[sandboxID]?.byName[name] else { return [] }
            return Set(addresses.filter { $0.value > now }.keys)
        }
    }

    /// Drops everything remembered for a sandbox (it was deleted).
    public func forget(sandboxID: String) {
        _ = books.withLock { $0.removeValue(forKey: sandboxID) }
    }

    /// (name, address) pairs remembered for a sandbox, expired ones included.
    public func entryCount(sandboxID: String) -> Int { books.withLock { $0[sandboxID]?.count ?? 0 } }

    /// Removes expired pairs, then the ones that expire first, down to `limit`.
    static func prune(_ book: inout Book, now: Timestamp, limit: Int) {
        var pairs: [(IPAddress, DomainName, Timestamp)] = []
        pairs.reserveCapacity(book.count)
        for (address, names) in book.byAddress {
            for (name, expires) in names { pairs.append((address, name, expires)) }
        }
        pairs.sort { $0.2 > $1.2 }
        let keep = pairs.prefix { $0.2 > now }.prefix(limit)
        var fresh = Book()
        for (address, name, expires) in keep {
            fresh.byAddress[address, default: [:]][name] = expires
            fresh.byName[name, default: [:]][address] = expires
            fresh.count += 1
        }
        book = fresh
    }
}
