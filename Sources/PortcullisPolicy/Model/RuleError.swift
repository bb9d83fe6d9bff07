/// Why a rule (or part of a policy) was refused; `message` is the sentence the API returns
/// in `{"error": …}` and the CLI prints.
public struct RuleError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
