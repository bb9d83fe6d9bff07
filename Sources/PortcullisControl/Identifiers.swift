import Crypto

/// Random identifiers and secrets, and API key hashing.
public enum Identifiers {
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)

    /// `prefix_` and `length` random base-36 characters (e.g. `sbx_k3…`).
    public static func make(_ prefix: String, length: Int = 20) -> String {
        var generator = SystemRandomNumberGenerator()
        var out = [UInt8]()
        out.reserveCapacity(length)
        for _ in 0..<length { out.append(alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))]) }
        return prefix + "_" + String(decoding: out, as: UTF8.self)
    }

    public static func sandbox() -> String { make("sbx") }
    public static func rule() -> String { make("rul") }
    public static func tenant() -> String { make("tnt") }
    public static func key() -> String { make("key") }
    /// An API key as given to its holder: `pcl_` and 40 random characters.
    public static func apiKey() -> String { make("pcl", length: 40) }
    /// A sandbox's proxy password: 32 random characters.
    public static func proxyToken() -> String { make("pxt", length: 32) }

    /// SHA-256 of the key, lower-case hex: what the store keeps.
    public static func hash(apiKey: String) -> String {
        SHA256.hash(data: Array(apiKey.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Compares two secrets in time independent of where they differ.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}

extension Identifiers {
    public static func credential() -> String { make("cred") }

    /// A credential placeholder (INSPECTION.md): `pcx_` and 32 characters of lower-case
    /// RFC 4648 base-32 (`a`–`z`, `2`–`7`) from the system's CSPRNG, 160 bits.
    public static func placeholder() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
        var generator = SystemRandomNumberGenerator()
        var out = Array("pcx_".utf8)
        for _ in 0..<32 { out.append(alphabet[Int(generator.next(upperBound: UInt64(32)))]) }
        return String(decoding: out, as: UTF8.self)
    }
}
