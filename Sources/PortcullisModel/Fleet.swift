import PortcullisPolicy

/// What one policy change touched: the hint a node uses to reload and recompile only that.
/// A tenant scope means the tenant's own record, its tenant-wide rules or its profiles
/// changed (every sandbox of the tenant is recompiled); sandbox ids name sandboxes created,
/// changed or deleted.
public struct PolicyChangeScope: Hashable, Sendable {
    public var tenantID: String?
    public var sandboxIDs: [String]

    public init(tenantID: String? = nil, sandboxIDs: [String] = []) {
        self.tenantID = tenantID
        self.sandboxIDs = sandboxIDs
    }

    public static func tenant(_ id: String) -> PolicyChangeScope { PolicyChangeScope(tenantID: id) }
    public static func sandboxes(_ ids: [String]) -> PolicyChangeScope { PolicyChangeScope(sandboxIDs: ids) }
}

/// One committed policy change, as the change log keeps it: the version it raised the
/// database's policy version to, and what it touched. Never data, never a secret.
public struct PolicyChange: Hashable, Sendable {
    public var version: UInt64
    public var scope: PolicyChangeScope
    public var time: Timestamp

    public init(version: UInt64, scope: PolicyChangeScope, time: Timestamp) {
        self.version = version
        self.scope = scope
        self.time = time
    }
}

/// The changes after a version, oldest first.
public struct PolicyChangeLog: Hashable, Sendable {
    public var changes: [PolicyChange]
    /// The database's policy version when the log was read.
    public var newestVersion: UInt64
    /// True when changes after the asked version are no longer all in the log (pruned):
    /// the reader must reload everything instead of applying the log.
    public var incomplete: Bool

    public init(changes: [PolicyChange], newestVersion: UInt64, incomplete: Bool) {
        self.changes = changes
        self.newestVersion = newestVersion
        self.incomplete = incomplete
    }
}

/// A gateway node's own view of itself, written at start and on every heartbeat.
public struct NodeRecord: Hashable, Sendable {
    public enum State: String, Hashable, Sendable, CaseIterable {
        /// Heartbeating, listening for changes, caught up as far as it knows.
        case up
        /// Alive but not sure it has every change (lost its listener or the database).
        case syncing
        /// Silent for longer than `NodeRecord.downAfterMilliseconds`.
        case down
    }

    public var id: String
    public var apiAddress: String
    public var proxyAddress: String
    public var softwareVersion: String
    public var startedAt: Timestamp
    public var heartbeatAt: Timestamp
    public var appliedPolicyVersion: UInt64
    /// What the node reported (`up` or `syncing`); `down` is decided by the reader.
    public var reportedState: State

    public init(id: String, apiAddress: String, proxyAddress: String, softwareVersion: String, startedAt: Timestamp,
                heartbeatAt: Timestamp, appliedPolicyVersion: UInt64, reportedState: State) {
        self.id = id
        self.apiAddress = apiAddress
        self.proxyAddress = proxyAddress
        self.softwareVersion = softwareVersion
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.appliedPolicyVersion = appliedPolicyVersion
        self.reportedState = reportedState
    }

    /// How often a node heartbeats.
    public static let heartbeatMilliseconds: Int64 = 2_000
    /// A node silent for longer than this is `down` (FLEET.md: 10 s).
    public static let downAfterMilliseconds: Int64 = 10_000

    /// The state as others see it at `now` (the database's clock).
    public func state(at now: Timestamp) -> State {
        now.milliseconds - heartbeatAt.milliseconds > Self.downAfterMilliseconds ? .down : reportedState
    }
}

/// The nodes as read at one instant of the database's clock.
public struct NodeListing: Hashable, Sendable {
    public var nodes: [NodeRecord]
    public var now: Timestamp
    public var newestPolicyVersion: UInt64

    public init(nodes: [NodeRecord], now: Timestamp, newestPolicyVersion: UInt64) {
        self.nodes = nodes
        self.now = now
        self.newestPolicyVersion = newestPolicyVersion
    }
}

/// Where nodes register and heartbeat.
public protocol NodeRepository: Sendable {
    /// Inserts or replaces the node's row; `heartbeatAt` is set to the database's clock.
    func saveNode(_ node: NodeRecord) async throws
    /// Records the version a node has applied (right after it applies one, between heartbeats).
    func recordApplied(nodeID: String, version: UInt64) async throws
    /// Every registered node, with the database's clock and policy version.
    func nodes() async throws -> NodeListing
}
