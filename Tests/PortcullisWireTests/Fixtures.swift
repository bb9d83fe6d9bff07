import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Real ClientHellos captured from `openssl s_client` over loopback (see the Proxy tests' Fixtures folder).
enum Fixture {
    static func bytes(_ name: String, file: String = #filePath) -> [UInt8] {
        let dir = file.split(separator: "/").dropLast(2).joined(separator: "/")
        let path = "/" + dir + "/PortcullisProxyTests/Fixtures/" + name
        guard let f = fopen(path, "rb") else { fatalError("missing fixture \(path)") }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    static func buffer(_ name: String) -> ByteBuffer { ByteBuffer(bytes: bytes(name)) }
}
