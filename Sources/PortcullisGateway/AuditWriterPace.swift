/// When the audit writer gathers entries before writing them.
///
/// Each wake-up of the writer costs a timer, a thread hop and a store write whatever the
/// batch holds: a gateway busy with short connections spent ~14 µs of CPU per connection on
/// wake-ups when it wrote every 2 ms (perf, docs/data-plane.md). So while entries arrive
/// fast (`busyEntries` or more in the last `window`), a wake-up gathers for `gather` first
/// and writes one batch; while they arrive slowly, each is written as soon as it comes, so
/// that what a client just did is in the store by the time it asks (a quiet gateway never
/// waits). A plain value, advanced by the writer's clock readings.
struct AuditWriterPace {
    static let window: Duration = .milliseconds(100)
    static let busyEntries = 50
    static let gather: Duration = .milliseconds(10)

    private var windowStart: ContinuousClock.Instant
    private var inWindow = 0
    private(set) var busy = false

    init(now: ContinuousClock.Instant) {
        windowStart = now
    }

    /// `count` entries were written at `now`.
    mutating func wrote(_ count: Int, at now: ContinuousClock.Instant) {
        roll(now)
        inWindow += count
    }

    /// How long to gather after waking at `now`; nil: write at once.
    mutating func gatherAfterWaking(at now: ContinuousClock.Instant) -> Duration? {
        roll(now)
        return busy ? Self.gather : nil
    }

    /// Closes the window once it is over: busy when it was full and closed on time (a window
    /// that ended long ago says nothing about now).
    private mutating func roll(_ now: ContinuousClock.Instant) {
        let elapsed = now - windowStart
        guard elapsed >= Self.window else { return }
        busy = elapsed < Self.window * 2 && inWindow >= Self.busyEntries
        windowStart = now
        inWindow = 0
    }
}
