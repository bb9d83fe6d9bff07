import Foundation
import PortcullisAPI
import PortcullisControl
import PortcullisModel

/// `GET /api/v1/audit/export`: JSON lines, oldest first, streamed a page at a time so that
/// an export of any size holds one page in memory (it was built whole: a million entries
/// per request, and several slow readers held gigabytes).
///
/// The store pages newest first, so the export walks twice: first it notes where each page
/// starts (cursors only), then it reads the pages again from the oldest and writes each one
/// reversed. The newest entry is read alone first and its cursor starts the walk, so no
/// page is read without a cursor: entries logged meanwhile are newer than every page and
/// neither shift nor join the export (they are the next export's).
actor AuditExport {
    private let control: ControlPlane
    private let caller: Caller
    private let query: AuditQuery
    private let encoder: JSONEncoder
    /// The page cursors, newest page first (popped from the end); nil until the first walk.
    private var cursors: [String]?
    /// The newest entry, written last.
    private var newest: AuditEvent?

    static let pageSize = 1000

    init(control: ControlPlane, caller: Caller, query: AuditQuery) {
        self.control = control
        self.caller = caller
        var query = query
        query.cursor = nil
        self.query = query
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.encoder = encoder
    }

    /// The next chunk of lines (one page), or nil at the end.
    func next() async throws -> ArraySlice<UInt8>? {
        if cursors == nil { try await walk() }
        if let cursor = cursors?.popLast() {
            var q = query
            q.cursor = cursor
            q.limit = Self.pageSize
            return try lines(try await control.audit(caller, q).items)
        }
        if let entry = newest {
            newest = nil
            return try lines([entry])
        }
        return nil
    }

    private func walk() async throws {
        var q = query
        q.limit = 1
        let top = try await control.audit(caller, q)
        newest = top.items.first
        var found: [String] = []
        var cursor = top.nextCursor
        q.limit = Self.pageSize
        while let c = cursor {
            q.cursor = c
            let page = try await control.audit(caller, q)
            if page.items.isEmpty { break }
            found.append(c)
            cursor = page.nextCursor
        }
        cursors = found
    }

    /// `items` (newest first, as pages come) as JSON lines, oldest first.
    private func lines(_ items: [AuditEvent]) throws -> ArraySlice<UInt8> {
        var out: [UInt8] = []
        for e in items.reversed() {
            out += try encoder.encode(APIMapping.audit(e))
            out.append(UInt8(ascii: "\n"))
        }
        return out[...]
    }
}
