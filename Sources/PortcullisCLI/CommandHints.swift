import PortcullisPolicy

/// The next step a refusal or a bad input calls for, named as a command, so a message says
/// what to do and not only what went wrong.
enum CommandHints {
    /// `sandbox not found`, for a command given sandbox `id`: which id, and how to find or
    /// make one.
    static func unknownSandbox(_ failure: APIFailure, _ id: String?) -> String? {
        guard failure.status == 404, failure.message == "sandbox not found", let id else { return nil }
        return "sandbox \(TerminalText.clean(id)) not found: `portcullis sandbox ls` lists this tenant's sandboxes, "
            + "`portcullis sandbox create` makes one"
    }

    /// `template NAME not found` (`sandbox create --template`): how to list and store templates.
    static func unknownTemplate(_ failure: APIFailure, _ name: String?) -> String? {
        guard failure.status == 404, let name, failure.message.hasPrefix("template "), failure.message.hasSuffix(" not found") else {
            return nil
        }
        return "\(failure.message): `portcullis template ls` lists this tenant's templates; store one with "
            + "`portcullis template create \(TerminalText.clean(name)) --from-sandbox sbx_…` (or --policy FILE)"
    }

    /// What removes a rule that applies to a sandbox but is not the sandbox's own.
    static func foreignRule(_ ruleID: String, source: String, sandbox: String) -> String {
        if source.hasPrefix("profile:") {
            let profile = String(source.dropFirst("profile:".count))
            return "rule \(ruleID) comes from profile \(profile), not from \(sandbox): detach the profile with "
                + "`portcullis profile detach \(profile) --sandbox \(sandbox)`, or override the rule with "
                + "`portcullis policy deny network HOST --sandbox \(sandbox)` (a profile's own rules cannot be removed here)"
        }
        return "rule \(ruleID) is tenant-wide, not \(sandbox)'s own: remove it for every sandbox with "
            + "`portcullis policy rm network --id \(ruleID) --tenant`"
    }

    /// A window flag (`--from-suggestions`, `--since`), checked before the call so the
    /// message names the flag rather than an API field.
    static func window(_ text: String, flag: String) throws -> String {
        guard TimeWindow(parsing: text) != nil else {
            throw InputError("\(flag) must be a window: a number and s, m, h, d or w, such as 7d, 24h or 30m (at most 3650 days), "
                + "not \(Escape.quoted(text))")
        }
        return text
    }
}
