import PortcullisPolicy

/// An `/etc/hosts`-format override: `ADDRESS NAME [NAME…]`, `#` comments; IPv4 and IPv6.
/// Names are canonicalised like every other host, so lookups match whatever spelling the
/// client used. Read once at start, never reloaded.
public struct HostsFile: Sendable {
    public private(set) var entries: [DomainName: [IPAddress]] = [:]

    public init(entries: [DomainName: [IPAddress]] = [:]) { self.entries = entries }

    public init(parsing text: String) {
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let address = HostParser.parseAddress(String(fields[0])) else { continue }
            for field in fields.dropFirst() {
                guard case .name(let name)? = try? HostParser.parseTarget(String(field)) else { continue }
                if entries[name]?.contains(address) != true { entries[name, default: []].append(address) }
            }
        }
    }

    /// Reads a file; a missing path is an error, an empty path no override.
    public static func load(path: String?) throws -> HostsFile {
        guard let path, !path.isEmpty else { return HostsFile() }
        return HostsFile(parsing: try readFile(path))
    }

    public func addresses(for name: DomainName) -> [IPAddress]? { entries[name] }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct FileReadError: Error, CustomStringConvertible {
    let path: String
    var description: String { "cannot read \(path)" }
}

func readFile(_ path: String) throws -> String {
    guard let file = fopen(path, "r") else { throw FileReadError(path: path) }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes += chunk[0..<n]
        if bytes.count > 16 << 20 { throw FileReadError(path: path) }
    }
    return String(decoding: bytes, as: UTF8.self)
}
