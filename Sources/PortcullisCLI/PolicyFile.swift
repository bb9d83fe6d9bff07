import Foundation
import PortcullisPolicy

/// An exported policy as `../shared/docs/API.md` shapes it: `mode`, `allow_rules`,
/// `deny_rules`, `profiles`; rules as the API writes them (`source` and `created_at` are
/// accepted and ignored, `id` kept), or a sandbox's whole policy answer. Any other field
/// is refused, named.
struct PolicyFile: Decodable {
    var mode: String?
    var allowRules: [RuleJSON]?
    var denyRules: [RuleJSON]?
    var profiles: [String]?
    var policyVersion: UInt64?

    enum CodingKeys: String, CodingKey {
        case mode
        case allowRules = "allow_rules"
        case denyRules = "deny_rules"
        case profiles
        case policyVersion = "policy_version"
    }

    struct RuleJSON: Decodable {
        var id: String?
        var action: String?
        var host: String
        var port: Int?
        var `protocol`: String?
        var methods: [String]?
        var paths: [String]?
        var warnOnly: Bool?
        var inspect: Bool?
        var except: [String]?
        var note: String?

        enum CodingKeys: String, CodingKey {
            case id, action, host, port, `protocol`, methods, paths, inspect, except, note
            case warnOnly = "warn_only"
        }
    }

    /// Reads and validates a policy file into the layers the engine compiles.
    static func load(path: String) throws -> (layers: PolicyLayers, version: UInt64) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw InputError("cannot read policy file \(path): \((error as NSError).localizedDescription)")
        }
        guard data.count <= 64 << 20 else { throw InputError("policy file \(path) is larger than 64 MiB") }
        let file: PolicyFile
        do {
            try Self.refuseUnknownFields(data, path: path)
            file = try JSONDecoder().decode(PolicyFile.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw InputError("policy file \(path) is not valid JSON: \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw InputError("policy file \(path): \(Self.path(context.codingPath + [key])) is required")
        } catch let DecodingError.typeMismatch(_, context) {
            throw InputError("policy file \(path): \(Self.path(context.codingPath)) has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw InputError("policy file \(path): \(Self.path(context.codingPath)) must not be null")
        }
        return (try file.layers(), file.policyVersion ?? 0)
    }

    /// Fields of an export (`portcullis export`) or of a sandbox's policy answer (`GET
    /// …/network`) that a check reads or may ignore; any other is a mistake and named.
    static let topLevelFields: Set<String> = ["mode", "allow_rules", "deny_rules", "profiles", "policy_version",
                                              "sandbox_id", "own_mode", "updated_at", "effective"]
    static let ruleFields: Set<String> = ["id", "action", "host", "port", "protocol", "methods", "paths", "warn_only",
                                          "inspect", "except", "note", "source", "created_at"]

    /// An unknown field is an error, not a no-op: `"allow_rule"` for `"allow_rules"` would
    /// otherwise check every target against an empty list.
    static func refuseUnknownFields(_ data: Data, path: String) throws {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        for key in object.keys.sorted() where !topLevelFields.contains(key) {
            throw InputError("policy file \(path): unknown field \(Escape.quoted(key))")
        }
        for list in ["allow_rules", "deny_rules"] {
            guard let rules = object[list] as? [Any] else { continue }
            for (index, rule) in rules.enumerated() {
                guard let rule = rule as? [String: Any] else { continue }
                for key in rule.keys.sorted() where !ruleFields.contains(key) {
                    throw InputError("policy file \(path): unknown field \(Escape.quoted(key)) in \(list)[\(index)]")
                }
            }
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().drop(while: { $0 == "." }).description
    }

    func layers() throws -> PolicyLayers {
        var mode = Mode.audit
        if let m = self.mode {
            guard let parsed = Mode(parsing: m) else {
                throw InputError("mode must be one of \(Mode.acceptedSpellings), not \(Escape.quoted(m))")
            }
            mode = parsed
        }
        var rules: [Rule] = []
        for (list, action) in [(allowRules ?? [], "allow"), (denyRules ?? [], "deny")] {
            for (index, json) in list.enumerated() {
                let field = "\(action)_rules[\(index)]"
                if let given = json.action, given != action {
                    throw InputError("\(field): action \(Escape.quoted(given)) does not belong in \(action)_rules")
                }
                let draft = RuleDraft(action: action, host: json.host, port: json.port, transport: json.protocol,
                                      methods: json.methods, paths: json.paths, warnOnly: json.warnOnly,
                                      inspect: json.inspect, except: json.except, note: json.note)
                do {
                    rules.append(try draft.validate(id: json.id ?? "rul_file_\(action)_\(index + 1)", source: .local))
                } catch {
                    throw InputError("\(field): \(error.message)")
                }
            }
        }
        var attached: [Profile] = []
        for name in self.profiles ?? [] {
            guard let profile = BuiltinProfiles.named(name) else {
                throw InputError("profile \(Escape.quoted(name)) is not a built-in profile (check knows only built-in profiles; see portcullis profile ls)")
            }
            attached.append(profile)
        }
        return PolicyLayers(tenantDefaultMode: mode, sandboxMode: mode, localRules: rules, sandboxProfiles: attached)
    }
}
