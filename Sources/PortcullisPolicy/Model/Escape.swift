/// Escaping of hostile strings for messages, logs and reasons: printable ASCII is kept,
/// everything else becomes `\u{…}`, and the result is bounded in length.
public enum Escape {
    /// `"text"` with control and non-ASCII characters escaped, cut at `limit` characters.
    public static func quoted(_ text: String, limit: Int = 120) -> String {
        "\"" + escaped(text, limit: limit) + "\""
    }

    /// The text with control, quote, backslash and non-ASCII characters escaped.
    public static func escaped(_ text: String, limit: Int = 120) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "…"
                break
            }
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x20...0x7E: out.unicodeScalars.append(scalar)
            default: out += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
            count += 1
        }
        return out
    }
}
