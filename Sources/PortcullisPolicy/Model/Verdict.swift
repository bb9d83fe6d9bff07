/// Where in the decision a verdict was reached.
public enum DecisionStage: String, Hashable, Sendable, Codable, CustomStringConvertible {
    case name
    case address
    case endpoint
    case consistency
    public var description: String { rawValue }
}

/// The verdict of a decision: `allow`, `warn` (allowed and flagged), or `reject`.
/// (The audit log's fourth action, `error`, is not a decision: it records a failure.)
public enum Verdict: String, Hashable, Sendable, Codable, CustomStringConvertible {
    case allow
    case warn
    case reject
    public var description: String { rawValue }

    public var permits: Bool { self != .reject }
}
