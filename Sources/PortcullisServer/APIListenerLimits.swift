/// The API listener's bounds (docs/api.md, "The API listener"), set with `serve --api-…`
/// flags or `PORTCULLIS_API_…` variables. The data plane has bounds of its own; these keep
/// the control plane from taking the process's descriptors or memory.
public struct APIListenerLimits: Hashable, Sendable {
    /// A request head (request line and headers) must arrive whole within this time of its
    /// first byte; otherwise 408 and the connection is closed.
    public var headTimeout: Duration = .seconds(10)
    /// A connection with no request in progress, or a request body that stops arriving, is
    /// closed after this long without a byte. Answers being written (an audit stream) are
    /// never cut by it.
    public var idleTimeout: Duration = .seconds(60)
    /// Open API connections at most; further ones wait in the kernel's accept queue until
    /// one closes. Separate from the data plane's cap, so API clients can never use up the
    /// proxy's connections (or the descriptors they need).
    public var maxConnections = 512
    /// Live audit streams (`/api/v1/audit/stream`) one API key may hold; one more is 429
    /// with `Retry-After`.
    public var maxStreamsPerKey = 8

    public init() {}

    /// Seconds a client refused a stream should wait: a closed stream is noticed at the next
    /// keep-alive (every 15 s), which frees its place.
    public static let streamRetryAfterSeconds = 15
}
