import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The trust bundle a sandbox gets (INSPECTION.md, "CLI and runner"): the system's CA
/// bundle followed by the sandbox's own CA, and the variables that point the usual
/// clients at it. Written by `sandbox create --env --ca-file PATH` and by `portcullis run`.
public enum CABundle {
    /// The variables set to the bundle's path: OpenSSL (and Python's ssl, Go, Ruby),
    /// requests, curl, Node.js (added to its own roots) and git.
    public static let variables = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO"]

    /// Where distributions keep the system bundle; the first that exists is used (Debian,
    /// Ubuntu, Alpine, Arch; Fedora, RHEL; openSUSE; the extracted p11-kit bundle; macOS
    /// and BSDs).
    public static let systemLocations = [
        "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
    ]
    /// The largest system bundle read (Debian's is about 220 KB).
    static let maxSystemBundle = 16 << 20

    /// The system bundle's text and where it was found, or nil when none is found.
    public static func systemBundle(locations: [String] = systemLocations) -> (path: String, text: String)? {
        for path in locations {
            guard let data = FileManager.default.contents(atPath: path), data.count <= maxSystemBundle,
                  let text = String(data: data, encoding: .utf8), text.contains("-----BEGIN CERTIFICATE-----") else { continue }
            return (path, text)
        }
        return nil
    }

    /// The bundle: the system's certificates (when given), then the sandbox's CA.
    public static func compose(system: String?, sandboxCA: String, sandboxID: String) -> String {
        var out = ""
        if let system, !system.isEmpty {
            out += system.hasSuffix("\n") ? system : system + "\n"
        }
        out += "# Portcullis: the certificate authority of sandbox \(sandboxID), which issues the certificates of the\n"
        out += "# HTTPS connections the gateway terminates for it.\n"
        out += sandboxCA.hasSuffix("\n") ? sandboxCA : sandboxCA + "\n"
        return out
    }

    /// The variables, each set to `path`.
    public static func environment(path: String) -> [String: String] {
        Dictionary(uniqueKeysWithValues: variables.map { ($0, path) })
    }

    /// `export SSL_CERT_FILE=PATH REQUESTS_CA_BUNDLE=PATH …` (the path quoted for the shell
    /// when it needs it).
    public static func exportLine(path: String) -> String {
        let value = shellQuoted(path)
        return "export " + variables.map { "\($0)=\(value)" }.joined(separator: " ")
    }

    static func shellQuoted(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { c in
            c.properties.isAlphabetic && c.isASCII || ("0"..."9").contains(c) || "/._-+,:@%=".unicodeScalars.contains(c)
        }
        if plain && !text.isEmpty { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Writes `text` to `path` (mode 0644) through a temporary file renamed over it, so a
    /// reader never sees half a bundle.
    public static func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw RunSetupError("cannot write \(path): the directory does not exist or is not writable")
        }
        guard rename(temporary.path, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw RunSetupError("cannot write \(path): \(reason)")
        }
    }
}
