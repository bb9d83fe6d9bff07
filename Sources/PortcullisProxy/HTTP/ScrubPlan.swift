import PortcullisPolicy

/// The scrubbing patterns of one sandbox's credentials — each secret's raw, base64,
/// base64url and percent-encoded forms — computed once per policy change (the gateway's
/// registry keeps one per sandbox with credentials) instead of for every request that
/// carries a credential. `scrubber(for:)` only selects.
public struct ScrubPlan: Sendable {
    /// What the plan was computed from: a new snapshot reuses the plan when they are equal.
    public let bindings: [CredentialBinding]
    private let byName: [String: [SecretScrubber.Pattern]]

    public init(_ bindings: [CredentialBinding]) {
        self.bindings = bindings
        var byName: [String: [SecretScrubber.Pattern]] = [:]
        for b in bindings {
            let replacement = Array(b.placeholder.utf8)
            var seen = Set<[UInt8]>()
            byName[b.name, default: []] += SecretScrubber.forms(of: Array(b.secret.utf8))
                .filter { $0.count >= 6 && seen.insert($0).inserted }
                .map { SecretScrubber.Pattern(bytes: $0, replacement: replacement, name: b.name) }
        }
        self.byName = byName
    }

    /// No credentials: nothing to scrub.
    public static let none = ScrubPlan([])

    /// A scrubber for the credentials a request carries (their names).
    func scrubber(for names: [String]) -> SecretScrubber {
        SecretScrubber(patterns: names.flatMap { byName[$0] ?? [] })
    }

    /// A whole value scrubbed for the credentials named (what a response header gets).
    public func scrubbed(_ text: String, for names: [String]) -> String {
        var scrubber = scrubber(for: names)
        return scrubber.scrub(text: text)
    }
}

/// A plan and a scrubber hold every form of their secrets: printed, dumped or reflected,
/// they show their credentials' names only (a secret never reaches a log).
extension ScrubPlan: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "ScrubPlan(\(bindings.map(\.name).joined(separator: ",")))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["credentials": bindings.map(\.name)]) }
}

extension SecretScrubber: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SecretScrubber(\(Set(patterns.map(\.name)).sorted().joined(separator: ",")))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["credentials": Set(patterns.map(\.name)).sorted()]) }
}
