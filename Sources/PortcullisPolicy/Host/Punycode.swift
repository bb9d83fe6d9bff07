/// Punycode (RFC 3492) and the IDNA ToASCII step for one label.
public enum Punycode {
    /// Encodes a sequence of code points as a Punycode string (without the `xn--` prefix).
    public static func encode(_ scalars: [Unicode.Scalar]) -> String? {
        fatalError("not written yet")
    }

    /// Decodes a Punycode string (without the `xn--` prefix) into code points.
    public static func decode(_ text: String) -> [Unicode.Scalar]? {
        fatalError("not written yet")
    }
}
