import PortcullisModel

/// A refusal of the control plane, with the HTTP status the API gives it and the message
/// that goes in `{"error": …}`.
public struct ControlError: Error, Hashable, Sendable, CustomStringConvertible, AbandonsPolicyChange {
    public let status: Int
    public let message: String
    /// Seconds a client should wait before trying again (`Retry-After`), for 429 and 503.
    public let retryAfter: Int?

    public init(status: Int, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(message)" }

    public static func badRequest(_ message: String) -> ControlError { ControlError(status: 400, message) }
    public static func notFound(_ message: String) -> ControlError { ControlError(status: 404, message) }
    public static func conflict(_ message: String) -> ControlError { ControlError(status: 409, message) }
    public static let unauthorized = ControlError(status: 401, "missing or invalid API key")
    public static let adminRequired = ControlError(status: 403, "admin key required")
    public static let sandboxNotFound = ControlError.notFound("sandbox not found")
    public static let computerNotFound = ControlError.notFound("computer not found")
}
