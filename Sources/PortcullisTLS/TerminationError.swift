/// Why the runtime could not give a terminated connection its TLS: the proxy refuses the
/// connection (never passes it through opaque).
public struct TerminationError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
