import Crypto
import Foundation

/// The `next_cursor` of every paged list, and its check when it comes back as `cursor`.
///
/// A cursor carries the list's position (the sort key of the last item shown) and a check
/// value binding that position to the list it was issued for: its kind (`sandboxes`,
/// `audit`, …) and scope (the tenant, and the sandbox for a pending queue). A cursor that
/// is malformed, edited, cut short, or issued for another list, tenant or sandbox is
/// refused with 400 instead of answering some other page. The check is not a secret: a
/// cursor only ever positions a list inside the caller's own tenant, so one made by hand
/// reveals nothing; the check is there so that mistakes are errors.
public enum PageCursor {
    static let version = "p1"
    /// Bytes of SHA-256 kept as the check value.
    static let checkBytes = 12

    /// The cursor for `position` in the list `kind` of `scope`.
    public static func issue(_ position: String, kind: String, scope: String) -> String {
        "\(version).\(base64url(Array(position.utf8))).\(base64url(check(position, kind: kind, scope: scope)))"
    }

    /// The position a cursor holds; nil for no cursor; 400 for one this list did not issue.
    public static func position(of cursor: String?, kind: String, scope: String) throws -> String? {
        guard let cursor else { return nil }
        let refused = ControlError.badRequest(
            "cursor is not one this list handed out: pass next_cursor back unchanged, with the same filters, or leave cursor out to start again")
        guard cursor.utf8.count <= 1024 else { throw refused }
        let parts = cursor.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == version, let bytes = unbase64url(parts[1]), let given = unbase64url(parts[2]),
              let position = String(validating: bytes, as: UTF8.self),
              given == check(position, kind: kind, scope: scope) else { throw refused }
        return position
    }

    static func check(_ position: String, kind: String, scope: String) -> [UInt8] {
        let text = "portcullis.cursor.v1\u{0}\(kind)\u{0}\(scope)\u{0}\(position)"
        return Array(SHA256.hash(data: Array(text.utf8)).prefix(checkBytes))
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ text: Substring) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.allSatisfy({ b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
        }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        guard let data = Data(base64Encoded: s) else { return nil }
        let bytes = [UInt8](data)
        // One spelling per cursor: re-encoding must give the text back.
        return base64url(bytes) == String(text) ? bytes : nil
    }
}
