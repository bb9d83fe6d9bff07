import PortcullisPolicy

/// Forwarded answers, keyed by (name ignoring case, type, class), valid for their TTL.
///
/// - Positive answers live for the smallest TTL of their answer and authority records,
///   at most `maxTTL`; a TTL of 0 is not cached.
/// - Negative answers (NXDOMAIN, or NOERROR with no answer: "NODATA") live for the smaller
///   of the SOA record's TTL and its MINIMUM field (RFC 2308 §5), at most `maxNegativeTTL`;
///   without an SOA they are not cached.
/// - Other response codes and truncated answers are never cached.
/// - At most `maxEntries`; beyond, the oldest insertion goes first. Expired entries are
///   never returned, and dropped when met.
/// - TTLs handed out are decremented by the seconds the entry has spent here.
///
/// A plain struct with time passed in; the runtime keeps it behind a lock.
public struct DNSCache: Sendable {
    public struct Key: Hashable, Sendable {
        let name: [UInt8]
        let type: DNSRecordType
        let recordClass: DNSClass

        public init(_ question: DNSQuestion) {
            name = question.name.key
            type = question.type
            recordClass = question.recordClass
        }
    }

    /// What a hit gives back: the response code and sections, TTLs already decremented.
    public struct Answer: Hashable, Sendable {
        public var code: DNSResponseCode
        public var answers: [DNSResourceRecord]
        public var authorities: [DNSResourceRecord]
        public var additionals: [DNSResourceRecord]
    }

    struct Entry: Sendable {
        var answer: Answer
        var stored: Timestamp
        var expires: Timestamp
        var generation: UInt64
    }

    public let maxEntries: Int
    public let maxTTL: UInt32
    public let maxNegativeTTL: UInt32
    private var entries: [Key: Entry] = [:]
    private var order: [(Key, UInt64)] = []
    private var head = 0
    private var generation: UInt64 = 0

    public init(maxEntries: Int = 10_000, maxTTL: UInt32 = 86_400, maxNegativeTTL: UInt32 = 300) {
        self.maxEntries = max(1, maxEntries)
        self.maxTTL = maxTTL
        self.maxNegativeTTL = maxNegativeTTL
    }

    public var count: Int { entries.count }

    /// How long `response` may be cached, in seconds (0: not at all).
    public func lifetime(of response: DNSMessage) -> UInt32 {
        guard !response.header.truncated else { return 0 }
        let code = response.header.responseCode
        let negative = code == .nameError || (code == .noError && response.answers.isEmpty)
        if negative {
            guard let soa = response.authorities.first(where: { $0.type == .soa }),
                  case .opaque(let bytes) = soa.data, bytes.count >= 4 else { return 0 }
            let tail = bytes.suffix(4)
            let minimum = tail.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return min(soa.ttl, minimum, maxNegativeTTL)
        }
        guard code == .noError else { return 0 }
        let ttls = (response.answers + response.authorities).map(\.ttl)
        return min(ttls.min() ?? 0, maxTTL)
    }

    /// Stores an upstream response to `question` if it may be cached.
    public mutating func store(_ response: DNSMessage, for question: DNSQuestion, now: Timestamp) {
        let seconds = lifetime(of: response)
        guard seconds > 0 else { return }
        let key = Key(question)
        if entries[key] == nil {
            while entries.count >= maxEntries, evictOldest() {}
        }
        generation += 1
        let answer = Answer(code: response.header.responseCode, answers: response.answers,
                            authorities: response.authorities, additionals: response.additionals)
        entries[key] = Entry(answer: answer, stored: now, expires: now.adding(milliseconds: Int64(seconds) * 1000),
                             generation: generation)
        order.append((key, generation))
        if order.count - head > 2 * maxEntries + 16 { compact() }
    }

    /// The cached answer to `question`, if one is still valid at `now`.
    public mutating func lookup(_ question: DNSQuestion, now: Timestamp) -> Answer? {
        let key = Key(question)
        guard let entry = entries[key] else { return nil }
        guard entry.expires > now else {
            entries[key] = nil
            return nil
        }
        let elapsed = UInt32(clamping: max(0, (now.milliseconds - entry.stored.milliseconds) / 1000))
        let remaining = UInt32(clamping: max(1, (entry.expires.milliseconds - now.milliseconds + 999) / 1000))
        func age(_ records: [DNSResourceRecord]) -> [DNSResourceRecord] {
            records.map { record in
                var r = record
                r.ttl = min(record.ttl > elapsed ? record.ttl - elapsed : 0, remaining)
                return r
            }
        }
        var answer = entry.answer
        answer.answers = age(answer.answers)
        answer.authorities = age(answer.authorities)
        answer.additionals = age(answer.additionals)
        return answer
    }

    /// Drops the oldest live insertion; false when there is nothing to drop.
    private mutating func evictOldest() -> Bool {
        while head < order.count {
            let (key, gen) = order[head]
            head += 1
            if entries[key]?.generation == gen {
                entries[key] = nil
                return true
            }
        }
        return false
    }

    private mutating func compact() {
        order = order[head...].filter { entries[$0.0]?.generation == $0.1 }
        head = 0
    }
}
