import ArgumentParser
import Foundation
import PortcullisApp
import PortcullisPolicy

/// `serve`'s flags for what lives inside HTTPS (INSPECTION.md): the secrets key file and
/// the upstream leg's extra CAs.
struct ServeInspectionOptions: ParsableArguments {
    @Option(name: .customLong("secrets-key-file"),
            help: "The key that seals CA keys and credentials at rest (default <data-dir>/secrets.key, created 0600 on first start; keep it, and give every node the same one; env PORTCULLIS_SECRETS_KEY_FILE names the file, never the key).")
    var secretsKeyFile: String?
    @Option(name: .customLong("upstream-ca"), help: "A PEM file of CA certificates the upstream leg of terminated TLS trusts besides the system's (repeatable; env PORTCULLIS_UPSTREAM_CA=a,b).")
    var upstreamCA: [String] = []

    init() {}

    /// Sets the secrets key file and the upstream CA files of `c` from the flags, else
    /// `PORTCULLIS_SECRETS_KEY_FILE` and `PORTCULLIS_UPSTREAM_CA` (comma-separated).
    func apply(to c: inout ServeConfiguration, environment: [String: String]) throws {
        // The variable names the key's file, never holds the key (a child process would inherit it).
        c.secretsKeyFile = ServeCommand.value(secretsKeyFile, "SECRETS_KEY_FILE", environment: environment)
        if let path = c.secretsKeyFile, path.isEmpty || path.hasSuffix("/") {
            throw InputError("--secrets-key-file must name a file, not \(Escape.quoted(path))")
        }
        var files = upstreamCA
        if files.isEmpty, let env = environment["PORTCULLIS_UPSTREAM_CA"] {
            files = env.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        for path in files where !FileManager.default.isReadableFile(atPath: path) {
            throw InputError("--upstream-ca \(path) cannot be read")
        }
        c.upstreamCAFiles = files
    }
}
