import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// The sandbox a connection belongs to, with the policy snapshot read once for it. A class
/// (every property a `let`): records, tunnel machines and streams hold a reference instead
/// of a ~150-byte copy each.
public final class SandboxContext: Sendable {
    public let sandboxID: String
    public let tenantID: String?
    public let policy: CompiledPolicy
    /// The credentials attached to the sandbox (INSPECTION.md): a bound host is terminated
    /// in every mode, and its placeholder replaced at the declared placement.
    public let credentials: [CredentialBinding]
    /// Their response-scrubbing patterns, computed once per policy change.
    public let scrubPlan: ScrubPlan

    /// `scrubPlan`: the one the registry computed for `credentials` (left out, computed here).
    public init(sandboxID: String, tenantID: String?, policy: CompiledPolicy, credentials: [CredentialBinding] = [],
                scrubPlan: ScrubPlan? = nil) {
        self.sandboxID = sandboxID
        self.tenantID = tenantID
        self.policy = policy
        self.credentials = credentials
        self.scrubPlan = scrubPlan ?? ScrubPlan(credentials)
    }

    /// Whether a TLS connection to `target` is to be terminated, and why: the rules say so,
    /// or a credential is bound to its host and port (whatever the mode).
    public func inspectionNeed(_ target: Target) -> InspectionNeed? {
        InspectionNeed.of(target, policy: policy, credentials: credentials)
    }
}

/// Why a name could not be resolved. Never an allow: the client gets 502 or 504.
public struct ResolveError: Error, Hashable, Sendable, CustomStringConvertible {
    public let timedOut: Bool
    public let message: String
    public init(timedOut: Bool, message: String) {
        self.timedOut = timedOut
        self.message = message
    }
    public var description: String { message }
}

/// Why a dial failed.
public struct DialError: Error, Hashable, Sendable, CustomStringConvertible {
    public let timedOut: Bool
    public let message: String
    public init(timedOut: Bool, message: String) {
        self.timedOut = timedOut
        self.message = message
    }
    public var description: String { message }
}

/// Limits and deadlines the handlers apply.
public struct ProxySettings: Sendable {
    /// Request line plus headers, in bytes (431 beyond).
    public var maxHeadBytes = 16 * 1024
    /// From the first byte of a request head to its end (408 beyond): slowloris.
    public var headTimeout: TimeAmount = .seconds(10)
    /// An idle keep-alive connection (no request in progress) is closed after this.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// A tunnel with no traffic either way for this long is closed (nil: never).
    public var tunnelIdleTimeout: TimeAmount? = .minutes(15)
    /// How long a tunnel holds the client's first bytes waiting for a complete ClientHello
    /// or HTTP head (counted from the first byte).
    public var firstBytesTimeout: TimeAmount = .seconds(3)
    /// The most client bytes a tunnel holds before deciding.
    public var maxHeldBytes = 17 * 1024
    /// Open connections per sandbox (429 / SOCKS 0x02 beyond).
    public var maxConnectionsPerSandbox = 1024
    /// SOCKS5 handshake bytes accepted before the tunnel is established.
    public var maxSOCKSHandshakeBytes = 2048
    /// Concurrent streams on one terminated HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    public var maxHTTP2Streams = 100
    /// HTTP/1.1 upstream connections one terminated HTTP/2 connection may open (the gateway
    /// translates when the upstream does not speak h2).
    public var maxUpstreamConnectionsPerClient = 8

    public init() {}
}

/// A connection (tunnel or HTTP request in flight) that a policy change may have to close.
/// `Sendable`: the registry holds it on any thread; `close` hops to the channel's loop.
public final class LiveConnection: Sendable {
    public let sandboxID: String
    public let target: Target
    /// The address dialled (nil for a name whose address is unknown here).
    public let address: IPAddress?
    public let isTunnel: Bool
    /// The version of the policy that allowed it (re-checked if the policy moved on before
    /// the connection was tracked).
    public let decidedUnder: UInt64
    let closeHandler: @Sendable (Decision) -> Void

    public init(sandboxID: String, target: Target, address: IPAddress?, isTunnel: Bool, decidedUnder: UInt64,
                close: @escaping @Sendable (Decision) -> Void) {
        self.sandboxID = sandboxID
        self.target = target
        self.address = address
        self.isTunnel = isTunnel
        self.decidedUnder = decidedUnder
        self.closeHandler = close
    }

    /// The decision `policy` takes on this connection now (name stage, then the address stage
    /// on the address that was dialled).
    public func decision(under policy: CompiledPolicy) -> Decision {
        let decision = policy.decide(target)
        guard case .name = target.host, let address else { return decision }
        return policy.check(decision, dialling: address, for: target)
    }

    /// Closes the connection (on its event loop) because `decision` rejects it.
    public func close(because decision: Decision) { closeHandler(decision) }
}

// MARK: - The seams between the handlers and the runtime, each as small as its users need.

/// Who a connection is: identity from a proxy credential or the source address, and what
/// the DNS gateway told the sandbox (for the transparent listener).
public protocol SandboxDirectory: Sendable {
    /// The sandbox a credential names (the token compared in constant time), or, when no
    /// credential is sent, the one the source address maps to. nil: 407.
    func authenticate(_ credential: ProxyCredential?, source: SocketAddress?) -> SandboxContext?

    /// The name the DNS gateway handed this sandbox for `address` (unexpired; the one valid
    /// longest when several share it), or nil.
    func attributedName(for address: IPAddress, sandboxID: String) -> DomainName?

    /// The unexpired addresses the DNS gateway handed this sandbox for `name`.
    func answeredAddresses(for name: DomainName, sandboxID: String) -> Set<IPAddress>

    /// A number that changes with every policy update (before anything the update closes),
    /// so that a keep-alive connection may keep its identity and the decisions it took
    /// while the number stays the same (`HTTPStreamHandler.authenticate`, `decide`); nil,
    /// the default: keep nothing, ask every time.
    var generation: UInt64? { get }
}

extension SandboxDirectory {
    public var generation: UInt64? { nil }
}

/// Lookups and connections, both off the caller's critical path.
public protocol Dialler: Sendable {
    /// Resolves a name off the event loop (hosts file, then the system resolver), with a
    /// timeout; the future completes on `eventLoop`.
    func resolve(_ name: DomainName, on eventLoop: any EventLoop) -> EventLoopFuture<[IPAddress]>

    /// Connects to exactly `address` with a connect timeout; the channel lives on
    /// `eventLoop` (the client's, so the glue needs no hops) and has no handlers yet, and
    /// does not read until told to.
    func connect(to address: IPAddress, port: UInt16, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel>
}

/// Where audit events go (non-blocking; the runtime queues them), and the clock they carry.
public protocol AuditSink: Sendable {
    func record(_ event: AuditEvent)
    /// As `record(_:)`; `whenWritten` runs once the entry is in the store (or can no longer
    /// be: dropped, or given up at shutdown), on any thread.
    func record(_ event: AuditEvent, whenWritten: @escaping @Sendable () -> Void)
    func now() -> Timestamp
    /// How long one decision took (metrics).
    func observeDecision(nanoseconds: Int64)
}

/// Per-sandbox connection counts and the live connections policy changes re-check.
public protocol ConnectionBook: Sendable {
    /// Counts one more open connection for a sandbox; false when it is at its limit.
    func openConnection(sandboxID: String) -> Bool
    func closeConnection(sandboxID: String)
    /// Tracks a live connection until `untrack` (policy changes re-check it).
    func track(_ connection: LiveConnection)
    func untrack(_ connection: LiveConnection)
}

/// Everything a proxy handler needs, fixed for the gateway's lifetime: the seams, the
/// limits, and the listeners no sandbox may reach. A class (every property a `let`): each
/// handler of each connection holds a reference, not a copy of its ~300 bytes (memory per
/// idle connection, and one retain instead of six when a handler is made).
public final class ProxyEnvironment: Sendable {
    public let settings: ProxySettings
    public let listenerBook: ListenerBook
    public let directory: any SandboxDirectory
    public let dialler: any Dialler
    public let audit: any AuditSink
    public let connections: any ConnectionBook
    /// TLS for terminated connections; nil: nothing is terminated (every TLS connection an
    /// SNI-checked opaque tunnel, and a host that needs termination is refused).
    public let tls: (any TLSProvider)?

    public init(settings: ProxySettings, listeners: ListenerBook, directory: any SandboxDirectory,
                dialler: any Dialler, audit: any AuditSink, connections: any ConnectionBook, tls: (any TLSProvider)? = nil) {
        self.settings = settings
        self.listenerBook = listeners
        self.directory = directory
        self.dialler = dialler
        self.audit = audit
        self.connections = connections
        self.tls = tls
    }

    /// One object that is all four seams (the runtime's gate, a test's fake).
    public convenience init<Gate: SandboxDirectory & Dialler & AuditSink & ConnectionBook>(settings: ProxySettings,
                                                                                listeners: ListenerBook = ListenerBook(),
                                                                                gate: Gate, tls: (any TLSProvider)? = nil) {
        self.init(settings: settings, listeners: listeners, directory: gate, dialler: gate, audit: gate, connections: gate,
                  tls: tls)
    }

    /// The gateway's own listeners, as known now (read once per attempt).
    public var listeners: GatewayListeners { listenerBook.current }

    /// A new audit record for an attempt on this ingress.
    func record(_ via: AuditVia, client: SocketAddress?) -> AuditRecord {
        record(via, clientText: client.auditText)
    }

    /// As `record(_:client:)`, with the address already formatted (`SocketAddress.auditText`).
    func record(_ via: AuditVia, clientText: String) -> AuditRecord {
        AuditRecord(via: via, client: clientText, time: audit.now())
    }

    /// Writes an attempt's entry.
    func finish(_ record: AuditRecord) { audit.record(record.event()) }

    /// Writes an attempt's entry and closes `channel` once it is written (`CloseAfterWrite`).
    func finish(_ record: AuditRecord, thenClose channel: any Channel) {
        let event = record.event()
        CloseAfterWrite.close(channel) { audit.record(event, whenWritten: $0) }
    }
}

/// POLICY-MODEL.md: a refused transparent connection "is closed after the log line is
/// written" — a client that sees the close finds the entry. A store slower than `bound`
/// does not keep the connection open longer than that.
public enum CloseAfterWrite {
    public static let bound: TimeAmount = .seconds(2)

    /// Closes `channel` when `recording`'s callback says the entry is written, or at `bound`.
    public static func close(_ channel: any Channel, recording: (@escaping @Sendable () -> Void) -> Void) {
        let timer = channel.eventLoop.scheduleTask(in: bound) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in timer.cancel() }
        recording { channel.close(promise: nil) }
    }
}

extension AuditSink {
    /// For sinks that write at once (or keep nothing): written when recorded.
    public func record(_ event: AuditEvent, whenWritten: @escaping @Sendable () -> Void) {
        record(event)
        whenWritten()
    }
}
