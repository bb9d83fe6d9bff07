/// Credential placeholders in a sandbox's environment (INSPECTION.md, "CLI and runner"):
/// `sandbox create --credential NAME[:ENV] --env`, `credential attach … --env VAR` and
/// `portcullis run` put each attached credential's placeholder in a variable, named by
/// `ENV` or, left out, after the credential (`openai-key` → `OPENAI_KEY`).
public enum CredentialVariables {
    /// Variables a placeholder may not take: those the CLI and the runner set themselves
    /// (proxy and CA bundle), and those that steer the dynamic loader or the shell.
    public static let reserved: Set<String> = Set(CABundle.variables + [
        "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy",
        "PATH", "HOME", "USER", "SHELL", "IFS", "ENV", "BASH_ENV",
    ])

    /// The variable for a credential when none is given: upper case, every character other
    /// than a letter, digit or `_` made `_`, and `_` first when the name starts with a digit.
    public static func defaultName(for credential: String) -> String {
        var out = ""
        for c in credential.unicodeScalars {
            if ("a"..."z").contains(c) {
                out.unicodeScalars.append(Unicode.Scalar(c.value - 32)!)
            } else if ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" {
                out.unicodeScalars.append(c)
            } else {
                out += "_"
            }
        }
        if let first = out.unicodeScalars.first, ("0"..."9").contains(first) { out = "_" + out }
        return out.isEmpty ? "_" : out
    }

    /// Why `name` cannot hold a placeholder, or nil: a shell variable name (`[A-Za-z_][A-Za-z0-9_]*`,
    /// at most 128 characters), not reserved and not `LD_…`.
    public static func refusal(_ name: String) -> String? {
        let scalars = Array(name.unicodeScalars)
        func word(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" }
        guard let first = scalars.first, word(first), scalars.count <= 128,
              scalars.allSatisfy({ word($0) || ("0"..."9").contains($0) }) else {
            return "\(name.isEmpty ? "an empty name" : name) is not an environment variable name (letters, digits and _, not starting with a digit)"
        }
        if reserved.contains(name) || name.hasPrefix("LD_") {
            return "\(name) is set by portcullis or steers the system; give the placeholder another variable"
        }
        return nil
    }

    /// `NAME` or `NAME:ENV` as the command line gives it.
    public static func parse(_ spec: String) -> (credential: String, variable: String?) {
        guard let colon = spec.firstIndex(of: ":") else { return (spec, nil) }
        return (String(spec[..<colon]), String(spec[spec.index(after: colon)...]))
    }

    /// `export VAR=pcx_…` (a placeholder needs no quoting).
    public static func exportLine(variable: String, placeholder: String) -> String { "export \(variable)=\(placeholder)" }
}
