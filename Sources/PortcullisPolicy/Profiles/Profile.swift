/// A named group of rules. Built-in profiles ship with Portcullis and cannot be changed;
/// tenants define their own. Attached profiles are live.
public struct Profile: Hashable, Sendable {
    public let name: String
    public let description: String?
    public let builtin: Bool
    public let rules: [Rule]

    public init(name: String, description: String? = nil, builtin: Bool = false, rules: [Rule]) {
        self.name = name
        self.description = description
        self.builtin = builtin
        self.rules = rules.map { var r = $0; r.source = .profile(name); return r }
    }

    /// The host patterns the profile covers, as written.
    public var hosts: [String] { rules.map(\.host.description) }

    /// Profile names: lower case letters, digits and `-`, 1 to 64 characters, starting with a letter.
    public static func validateName(_ name: String) throws(RuleError) {
        let ok = (1...64).contains(name.utf8.count)
            && name.utf8.first.map { $0 >= 0x61 && $0 <= 0x7A } == true
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        guard ok else {
            throw RuleError("profile name \(Escape.quoted(name)) must be 1-64 lower-case letters, digits or -, starting with a letter")
        }
    }
}
