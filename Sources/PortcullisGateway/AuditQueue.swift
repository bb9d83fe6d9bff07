import Logging
import Metrics
import PortcullisModel
import Synchronization

/// The bounded, batched, non-blocking path from the event loops to the audit store.
///
/// `submit` never blocks and never awaits: it appends under a short lock and wakes the
/// writer. Past `capacity` the queue reports pressure (the gateway stops accepting new
/// connections until it drains below half) but still keeps what live connections produce;
/// only past `hardLimit` is an event dropped, and then counted and logged — never silently.
/// The writer (`run()`) writes batches to the repository and hands `joinsPending` events to
/// the pending recorder's own consumer (`runPendingRecorder()`; both: `runWriters()`).
/// `drain()` flushes everything for a graceful shutdown.
public final class AuditQueue: Sendable {
    struct State {
        var buffer: [AuditEvent] = []
        var waiter: CheckedContinuation<Void, Never>?
        var closing = false
        var pressured = false
        var dropped = 0
        /// Events ever queued, and ever taken into a batch: an event's number is the count
        /// after it was queued.
        var queued = 0
        var taken = 0
        /// What waits for an event to be written (`submit(_:whenWritten:)`), by its number.
        var afterWrite: [(number: Int, run: @Sendable () -> Void)] = []
    }

    public let capacity: Int
    public let hardLimit: Int
    public let batchSize: Int
    private let state = Mutex(State())
    private let repository: any AuditRepository
    private let pendingRecorder: (@Sendable (AuditEvent) async -> Void)?
    /// Rejections that join a pending queue, handed from the writer to their own consumer
    /// (`runPendingRecorder`), so the writer never awaits the control plane. Bounded: past
    /// `pendingBacklog` an entry is dropped, counted and logged (the audit line itself is kept).
    private let pendingFeed: AsyncStream<AuditEvent>
    private let pendingSink: AsyncStream<AuditEvent>.Continuation
    static let pendingBacklog = 10_000
    /// Entries one sandbox may have waiting in the feed (its own pending queue holds no
    /// more): a sandbox that floods cannot crowd the other sandboxes' entries out.
    static let pendingSharePerSandbox = 1_000
    private let pendingShares = Mutex(PendingShares(perSandbox: AuditQueue.pendingSharePerSandbox))
    private let pendingDroppedCounter = Counter(label: "portcullis_pending_dropped_total")
    /// Drops are logged at most once per 10 s, with how many there were.
    private let pendingDropLog = Mutex<(last: ContinuousClock.Instant?, unlogged: Int)>((nil, 0))
    private let onPressure: Mutex<(@Sendable (Bool) -> Void)?>
    private let depthGauge = Gauge(label: "portcullis_audit_queue_depth")
    private let droppedCounter = Counter(label: "portcullis_audit_dropped_total")
    private let writtenCounter = Counter(label: "portcullis_audit_written_total")
    private let logger: Logger
    private let finished = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let done = Mutex(false)

    public init(repository: any AuditRepository, capacity: Int = 10_000, batchSize: Int = 256,
                pendingRecorder: (@Sendable (AuditEvent) async -> Void)? = nil,
                logger: Logger = Logger(label: "portcullis.audit")) {
        self.repository = repository
        self.capacity = capacity
        self.hardLimit = capacity * 4
        self.batchSize = batchSize
        self.pendingRecorder = pendingRecorder
        self.logger = logger
        self.onPressure = Mutex(nil)
        (pendingFeed, pendingSink) = AsyncStream.makeStream(of: AuditEvent.self,
                                                            bufferingPolicy: .bufferingOldest(Self.pendingBacklog))
    }

    /// Records the pending entries the writer hands over, one at a time, until the writer
    /// has drained (`drain()` ends the feed).
    public func runPendingRecorder() async {
        for await event in pendingFeed {
            await pendingRecorder?(event)
            if let sandboxID = event.sandboxID { pendingShares.withLock { $0.done(sandboxID) } }
        }
    }

    /// Called with `true` when the queue passes `capacity`, `false` when it drains below half.
    public func setPressureHandler(_ handler: @escaping @Sendable (Bool) -> Void) {
        onPressure.withLock { $0 = handler }
    }

    public var depth: Int { state.withLock { $0.buffer.count } }
    public var droppedCount: Int { state.withLock { $0.dropped } }
    public var isPressured: Bool { state.withLock { $0.pressured } }

    /// Non-blocking; safe from any thread (event loops included).
    public func submit(_ event: AuditEvent) {
        submit(event, whenWritten: nil)
    }

    /// As `submit(_:)`; `whenWritten` runs (on the writer) once the batch holding `event`
    /// is written — or given up at shutdown, or at once when the event is dropped, so that
    /// nothing waits for ever on it.
    public func submit(_ event: AuditEvent, whenWritten: (@Sendable () -> Void)?) {
        var dropped = false
        let (waiter, pressureChanged, depth): (CheckedContinuation<Void, Never>?, Bool, Int) = state.withLock { s in
            guard s.buffer.count < hardLimit else {
                s.dropped += 1
                dropped = true
                return (nil, false, s.buffer.count)
            }
            s.buffer.append(event)
            s.queued += 1
            if let whenWritten { s.afterWrite.append((s.queued, whenWritten)) }
            var changed = false
            if !s.pressured, s.buffer.count >= capacity {
                s.pressured = true
                changed = true
            }
            let w = s.waiter
            s.waiter = nil
            return (w, changed, s.buffer.count)
        }
        depthGauge.record(depth)
        if dropped {
            droppedCounter.increment()
            logger.error("audit queue over its hard limit: event dropped", metadata: ["host": "\(event.host)"])
            whenWritten?()
        }
        if pressureChanged { onPressure.withLock { $0 }?(true) }
        waiter?.resume()
    }

    /// The writer loop; returns once `drain()` was called and everything is written.
    public func run() async {
        var pace = AuditWriterPace(now: .now)
        while true {
            let batch: [AuditEvent]? = await nextBatch(&pace)
            guard let batch else { break }
            await write(batch)
            pace.wrote(batch.count, at: .now)
            runAfterWrite()
            let (depth, relieved) = state.withLock { s -> (Int, Bool) in
                if s.pressured, s.buffer.count < capacity / 2 {
                    s.pressured = false
                    return (s.buffer.count, true)
                }
                return (s.buffer.count, false)
            }
            depthGauge.record(depth)
            if relieved { onPressure.withLock { $0 }?(false) }
        }
        pendingSink.finish()
        // Nothing is written after this: whatever still waits for a write stops waiting.
        runAfterWrite(all: true)
        // `done` first, then the waiters: a `drain()` that appends itself after this take
        // sees `done` when it checks again. (The other order let one append between the take
        // and `done`, check too early, and wait for ever.)
        done.withLock { $0 = true }
        let waiters = finished.withLock { w -> [CheckedContinuation<Void, Never>] in
            let all = w
            w = []
            return all
        }
        for w in waiters { w.resume() }
    }

    /// The writer and the pending recorder together, until `drain()` has been called and
    /// both are done (structured: the caller owns the task).
    public func runWriters() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.run() }
            group.addTask { await self.runPendingRecorder() }
        }
    }

    private func nextBatch(_ pace: inout AuditWriterPace) async -> [AuditEvent]? {
        while true {
            enum Step { case batch([AuditEvent]), finished, wait }
            let step: Step = state.withLock { s in
                if !s.buffer.isEmpty {
                    let n = min(batchSize, s.buffer.count)
                    let batch = Array(s.buffer.prefix(n))
                    s.buffer.removeFirst(n)
                    s.taken += n
                    return .batch(batch)
                }
                return s.closing ? .finished : .wait
            }
            switch step {
            case .batch(let b): return b
            case .finished: return nil
            case .wait:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        if !s.buffer.isEmpty || s.closing { return true }
                        s.waiter = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
                // Woken by the first event after a quiet spell: while events come fast, let
                // more arrive, so a busy gateway writes batches, not one event per wake-up
                // (`AuditWriterPace`); a quiet one writes at once. A shutdown does not wait.
                if let gather = pace.gatherAfterWaking(at: .now), !state.withLock({ $0.closing }) {
                    try? await Task.sleep(for: gather)
                }
            }
        }
    }

    /// Runs what waited for the events taken so far (all written or given up by now), or,
    /// with `all`, for every event (the writer has ended).
    private func runAfterWrite(all: Bool = false) {
        let ready = state.withLock { s -> [@Sendable () -> Void] in
            let last = all ? Int.max : s.taken
            let end = s.afterWrite.firstIndex(where: { $0.number > last }) ?? s.afterWrite.endIndex
            defer { s.afterWrite.removeFirst(end) }
            return s.afterWrite[..<end].map(\.run)
        }
        for run in ready { run() }
    }

    /// How long a shutdown keeps retrying a batch the store refuses (the database may be
    /// on its way back) before giving it up, counted and logged.
    static let shutdownRetryLimit: Duration = .seconds(10)

    /// Writes a batch, retrying with a back-off of up to 1 s for as long as the store
    /// refuses it (a lost database keeps the events here, in order, until it returns).
    private func write(_ batch: [AuditEvent]) async {
        var attempt = 0
        var closingSince: ContinuousClock.Instant?
        while true {
            do {
                _ = try await repository.append(batch)
                writtenCounter.increment(by: batch.count)
                if attempt > 0 { logger.notice("audit writes resumed", metadata: ["after_attempts": "\(attempt)"]) }
                break
            } catch {
                attempt += 1
                if state.withLock({ $0.closing }) {
                    let since = closingSince ?? ContinuousClock.now
                    closingSince = since
                    if ContinuousClock.now - since >= Self.shutdownRetryLimit || Task.isCancelled {
                        logger.error("audit batch lost at shutdown after retries", metadata: ["count": "\(batch.count)", "error": "\(error)"])
                        droppedCounter.increment(by: batch.count)
                        break
                    }
                }
                // Once per outage at warning level; the retries after it at debug.
                if attempt == 1 {
                    logger.warning("audit write failed; keeping the events and retrying", metadata: ["error": "\(error)"])
                } else {
                    logger.debug("audit write failed again", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(min(1000, 50 * attempt)))
            }
        }
        if pendingRecorder != nil {
            for event in batch where event.joinsPending {
                guard let sandboxID = event.sandboxID else { continue }
                guard pendingShares.withLock({ $0.admit(sandboxID) }) else {
                    pendingDropped(sandboxID)
                    continue
                }
                if case .dropped = pendingSink.yield(event) {
                    pendingShares.withLock { $0.done(sandboxID) }
                    pendingDropped(sandboxID)
                }
            }
        }
    }

    /// A pending entry not recorded (its audit line is kept): counted, and logged at most
    /// once per 10 s with the number since the last line, so a flood does not flood the log.
    private func pendingDropped(_ sandboxID: String) {
        pendingDroppedCounter.increment()
        let now = ContinuousClock.now
        let unlogged = pendingDropLog.withLock { log -> Int? in
            log.unlogged += 1
            if let last = log.last, now - last < .seconds(10) { return nil }
            defer { log = (now, 0) }
            return log.unlogged
        }
        if let unlogged {
            let message: Logger.Message = "pending recorder behind: \(unlogged) pending entries dropped (a sandbox may have \(Self.pendingSharePerSandbox) waiting, all together \(Self.pendingBacklog)); their audit lines are kept"
            logger.error(message, metadata: ["sandbox": "\(sandboxID)"])
        }
    }

    /// Stops taking the writer's "wait" and returns when everything submitted so far is written.
    public func drain() async {
        // Note to maintainers: this waits for the writer (`run()`, or `runWriters()`), which
        // whoever owns the queue runs — the gateway's `AuditWriterService`, tests beside it.
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closing = true
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let already = done.withLock { $0 }
            if already {
                c.resume()
            } else {
                finished.withLock { $0.append(c) }
                if done.withLock({ $0 }) {
                    // run() finished between the check and the append.
                    let ws = finished.withLock { w -> [CheckedContinuation<Void, Never>] in
                        let all = w
                        w = []
                        return all
                    }
                    for w in ws { w.resume() }
                }
            }
        }
    }
}

/// How many pending entries each sandbox has waiting in the recorder's feed.
struct PendingShares {
    let perSandbox: Int
    private(set) var queued: [String: Int] = [:]

    init(perSandbox: Int) { self.perSandbox = perSandbox }

    /// Takes a place for `sandbox`; false when it has `perSandbox` waiting already.
    mutating func admit(_ sandbox: String) -> Bool {
        let n = queued[sandbox, default: 0]
        guard n < perSandbox else { return false }
        queued[sandbox] = n + 1
        return true
    }

    mutating func done(_ sandbox: String) {
        let n = queued[sandbox, default: 0] - 1
        queued[sandbox] = n > 0 ? n : nil
    }
}
