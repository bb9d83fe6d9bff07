import Metrics
import Synchronization

/// The DNS gateway's instruments: queries by outcome, cache hits and misses, upstream
/// failures, spoofed or stray upstream answers ignored.
final class DNSMetrics: Sendable {
    private let queries = Mutex<[String: Counter]>([:])
    let cacheHits = Counter(label: "portcullis_dns_cache_total", dimensions: [("result", "hit")])
    let cacheMisses = Counter(label: "portcullis_dns_cache_total", dimensions: [("result", "miss")])
    let upstreamFailures = Counter(label: "portcullis_dns_upstream_failures_total")
    let upstreamIgnored = Counter(label: "portcullis_dns_upstream_ignored_total")

    /// `action`: allow, warn, reject, formerr, notimp, drop, servfail, overload.
    func query(_ action: String) {
        let counter = queries.withLock { cache in
            if let c = cache[action] { return c }
            let c = Counter(label: "portcullis_dns_queries_total", dimensions: [("action", action)])
            cache[action] = c
            return c
        }
        counter.increment()
    }
}
