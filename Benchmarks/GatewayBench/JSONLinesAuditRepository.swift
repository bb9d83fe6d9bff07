import Foundation
import PortcullisModel
import PortcullisPolicy

/// The bench's audit store: every event as one JSON line in a file, written per batch on
/// the audit writer (never on an event loop). The line is built byte by byte into one
/// reused buffer, so writing costs about as much as a C proxy's access log, not a
/// `String` interpolation per field.
final class JSONLinesAuditRepository: AuditRepository, @unchecked Sendable {
    let handle: FileHandle
    let lock = NSLock()
    var written = 0
    var line: [UInt8] = []

    init(path: String) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        line.reserveCapacity(64 * 1024)
    }

    func append(_ events: [AuditEvent]) async throws -> [AuditEvent] {
        lock.withLock {
            line.removeAll(keepingCapacity: true)
            for e in events { Self.encode(e, into: &line) }
            line.withUnsafeBytes { handle.write(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0.baseAddress!),
                                                    count: $0.count, deallocator: .none)) }
            written += events.count
        }
        return events
    }

    /// One event as a JSON object and a newline (the fields of POLICY-MODEL.md's audit entry).
    static func encode(_ e: AuditEvent, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        field("time", e.time.milliseconds, &out, first: true)
        field("tenant_id", e.tenantID ?? "", &out)
        field("sandbox_id", e.sandboxID ?? "", &out)
        field("client", e.client, &out)
        field("via", e.via.rawValue, &out)
        field("host", e.host, &out)
        field("sni", e.sni ?? "", &out)
        field("address", e.address ?? "", &out)
        field("port", Int64(e.port ?? 0), &out)
        field("transport", e.transport, &out)
        field("method", e.method ?? "", &out)
        field("path", e.path ?? "", &out)
        field("action", e.action.rawValue, &out)
        field("would_reject", e.wouldReject ? 1 : 0, &out)
        field("rule_id", e.ruleID ?? "", &out)
        field("rejected_by", e.rejectedBy ?? "", &out)
        field("reason", e.reason, &out)
        field("status", Int64(e.status ?? 0), &out)
        field("bytes_up", e.bytesUp, &out)
        field("bytes_down", e.bytesDown, &out)
        field("duration_ms", e.durationMs, &out)
        field("policy_version", Int64(truncatingIfNeeded: e.policyVersion), &out)
        field("terminated", e.terminated ? 1 : 0, &out)
        out.append(contentsOf: "}\n".utf8)
    }

    private static func key(_ name: StaticString, _ out: inout [UInt8], first: Bool) {
        if !first { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: "\":".utf8)
    }

    private static func field(_ name: StaticString, _ value: Int64, _ out: inout [UInt8], first: Bool = false) {
        key(name, &out, first: first)
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude > 0
            while n > 0 {
                n -= 1
                out.append(d[n])
            }
        }
    }

    /// A JSON string: quote, backslash and control characters escaped; UTF-8 kept.
    private static func field(_ name: StaticString, _ value: String, _ out: inout [UInt8], first: Bool = false) {
        key(name, &out, first: first)
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    func query(_ query: AuditQuery) async throws -> AuditPage { AuditPage(items: [], nextCursor: nil) }
    func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] { [] }
    func deleteOlder(than cutoff: Timestamp) async throws -> Int { 0 }
    func count() async throws -> Int { lock.withLock { written } }
}
