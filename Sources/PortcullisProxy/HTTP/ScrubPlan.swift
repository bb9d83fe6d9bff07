import PortcullisPolicy

/// What one sandbox's credentials need on every request that carries one, computed once
/// per policy change (the gateway's registry keeps one per sandbox with credentials) instead
/// of per request: the scrubbing patterns — each secret's raw, base64, base64url and
/// percent-encoded forms — with a scrubber ready per credential, and the values injected
/// (a header placement's value rendered from its format, a query placement's
/// percent-encoded secret). `scrubber(for:)` and `injected(at:)` only select.
public struct ScrubPlan: Sendable {
    /// What the plan was computed from: a new snapshot reuses the plan when they are equal.
    public let bindings: [CredentialBinding]
    private let byName: [String: [SecretScrubber.Pattern]]
    /// A scrubber per credential (copied for a request: its arrays are shared, not copied).
    private let scrubbers: [String: SecretScrubber]
    /// The value each credential's placement puts in the request, in the order of `bindings`
    /// (the gate finds a placeholder's binding by its position: no hashing per request).
    private let values: [String?]

    public init(_ bindings: [CredentialBinding]) {
        self.bindings = bindings
        var byName: [String: [SecretScrubber.Pattern]] = [:]
        var values: [String?] = []
        for b in bindings {
            let replacement = Array(b.placeholder.utf8)
            var seen = Set<[UInt8]>()
            byName[b.name, default: []] += SecretScrubber.forms(of: Array(b.secret.utf8))
                .filter { $0.count >= 6 && seen.insert($0).inserted }
                .map { SecretScrubber.Pattern(bytes: $0, replacement: replacement, name: b.name) }
            values.append(Self.injectedValue(of: b))
        }
        self.byName = byName
        self.scrubbers = byName.mapValues { SecretScrubber(patterns: $0) }
        self.values = values
    }

    /// What `binding`'s placement puts in a request: a header's format with the secret in
    /// place, a query parameter's secret percent-encoded; nil for Basic (the username comes
    /// from the request).
    static func injectedValue(of binding: CredentialBinding) -> String? {
        switch binding.placement {
        case .header(_, let format): return format.replacingOccurrences(of: "{secret}", with: binding.secret)
        case .query: return PercentEncoding.encodeQueryValue(binding.secret)
        case .basic: return nil
        }
    }

    /// The injected value of the binding at `index` in `bindings`, computed with the plan.
    func injected(at index: Int) -> String { values[index] ?? "" }

    /// The injected value of the plan's binding with `binding`'s placeholder.
    func injected(for binding: CredentialBinding) -> String {
        bindings.firstIndex { $0.placeholder == binding.placeholder }.map(injected(at:)) ?? ""
    }

    /// No credentials: nothing to scrub.
    public static let none = ScrubPlan([])

    /// A scrubber for the credentials a request carries (their names).
    func scrubber(for names: [String]) -> SecretScrubber {
        if names.count == 1, let ready = scrubbers[names[0]] { return ready }
        return SecretScrubber(patterns: names.flatMap { byName[$0] ?? [] })
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
