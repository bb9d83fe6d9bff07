import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The secrets key file (`serve --secrets-key-file`, default `<data-dir>/secrets.key`):
/// the key as base64 text on one line (what `serve` writes, and what
/// `openssl rand -base64 32` prints), or its 32 raw bytes.
public enum SecretsKeyFile {
    /// The largest key file read (a key is 44 characters of base64).
    static let maxSize = 4096

    /// The key in `path`, or nil when there is no such file.
    public static func load(_ path: String) throws(SecretsError) -> SecretsKey? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw SecretsError("the secrets key file \(path) cannot be read: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while bytes.count <= maxSize {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SecretsError("the secrets key file \(path) cannot be read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk[..<n]
        }
        return try parse(bytes, path: path)
    }

    /// The key from the file's bytes: 32 raw bytes, or base64 of 32 bytes (surrounding
    /// white space ignored).
    static func parse(_ bytes: [UInt8], path: String) throws(SecretsError) -> SecretsKey {
        if bytes.count == 32 { return try SecretsKey(bytes: bytes) }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let decoded = Data(base64Encoded: text), decoded.count == 32 else {
            throw SecretsError("the secrets key file \(path) must hold a 256-bit key: 32 random bytes or their base64 (openssl rand -base64 32)")
        }
        return try SecretsKey(bytes: Array(decoded))
    }

    /// Writes a new random key to `path` (mode 0600, created exclusively: an existing file
    /// is never overwritten) and makes it durable before returning it.
    public static func create(_ path: String) throws(SecretsError) -> SecretsKey {
        let key = SecretsKey.random()
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SecretsError("the secrets key file \(path) cannot be created: \(String(cString: strerror(errno)))")
        }
        let text = Array((Data(key.bytes).base64EncodedString() + "\n").utf8)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.count, synced else {
            unlink(path)
            throw SecretsError("the secrets key file \(path) cannot be written")
        }
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
        return key
    }

    /// A warning when group or others may read the file (nil when only its owner may).
    public static func permissionWarning(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & 0o077 != 0 else { return nil }
        return "the secrets key file \(path) can be read by users other than its owner (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it"
    }
}
