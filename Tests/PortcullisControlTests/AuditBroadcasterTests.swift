import PortcullisControl
import PortcullisModel
import PortcullisPolicy
import Testing

@Suite("The live audit broadcaster")
struct AuditBroadcasterTests {
    static func event(_ tenant: String, _ sandbox: String, _ action: AuditAction, _ host: String) -> AuditEvent {
        AuditEvent(id: "aud_\(host)", time: Timestamp(seconds: 1), tenantID: tenant, sandboxID: sandbox, client: "c", via: .http,
                   host: host, port: 80, action: action, reason: "r", policyVersion: 1)
    }

    @Test("a subscriber gets its tenant's events, filtered by sandbox and action, and stops counting when it ends")
    func filters() async throws {
        let b = AuditBroadcaster()
        let stream = b.subscribe(tenantID: "t1", sandboxID: "s1", action: "reject")
        #expect(b.count == 1)
        b.publish([Self.event("t1", "s1", .reject, "a.test"), Self.event("t2", "s1", .reject, "other-tenant.test"),
                   Self.event("t1", "s2", .reject, "other-sandbox.test"), Self.event("t1", "s1", .allow, "allowed.test"),
                   Self.event("t1", "s1", .reject, "b.test")])
        var hosts: [String] = []
        for await item in stream {
            switch item {
            case .event(let e): hosts.append(e.host)
            case .keepAlive, .dropped: continue
            }
            if hosts.count == 2 { break }
        }
        #expect(hosts == ["a.test", "b.test"])
    }

    @Test("a slow subscriber is told how many live events it missed")
    func slow() async throws {
        let b = AuditBroadcaster(bufferSize: 4)
        let stream = b.subscribe(tenantID: "t", sandboxID: nil, action: nil)
        b.publish((0..<10).map { Self.event("t", "s", .allow, "h\($0).test") })
        var dropped = 0
        var events = 0
        for await item in stream {
            switch item {
            case .event: events += 1
            case .dropped(let n): dropped += n
            case .keepAlive: continue
            }
            if events + dropped >= 10 || (events > 0 && dropped > 0 && events + dropped >= 7) { break }
        }
        #expect(dropped > 0)
        #expect(events <= 4)
    }

    @Test("events written through the broadcasting repository are stored first, then published with their ids")
    func repository() async throws {
        final class Memory: AuditRepository, @unchecked Sendable {
            var stored: [AuditEvent] = []
            func append(_ events: [AuditEvent]) async throws -> [AuditEvent] {
                let withIDs = events.enumerated().map { i, e in var e = e; e.id = "aud_\(stored.count + i + 1)"; return e }
                stored += withIDs
                return withIDs
            }
            func query(_ query: AuditQuery) async throws -> AuditPage { AuditPage(items: [], nextCursor: nil) }
            func tally(tenantID: String, sandboxID: String, since: Timestamp) async throws -> [Suggestions.Tally] { [] }
            func deleteOlder(than cutoff: Timestamp) async throws -> Int { 0 }
            func count() async throws -> Int { stored.count }
        }
        let memory = Memory()
        let b = AuditBroadcaster()
        let repo = BroadcastingAuditRepository(base: memory, broadcaster: b)
        let stream = b.subscribe(tenantID: "t", sandboxID: nil, action: nil)
        var e = Self.event("t", "s", .allow, "x.test")
        e.id = nil
        _ = try await repo.append([e])
        #expect(try await memory.count() == 1)
        for await item in stream {
            if case .event(let got) = item {
                #expect(got.id == "aud_1")
                break
            }
        }
    }
}
