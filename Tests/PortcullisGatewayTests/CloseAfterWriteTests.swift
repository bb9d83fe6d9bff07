import Foundation
import NIOCore
import PortcullisModel
import PortcullisPolicy
import Synchronization
import Testing
@testable import PortcullisGateway
@testable import PortcullisProxy

/// POLICY-MODEL.md: a refused transparent TCP connection "is closed after the log line is
/// written" — a client that sees the close finds the entry in the store.
@Suite struct CloseAfterWriteTests {
    @Test func whatWaitsForAWriteRunsOnlyOnceItsBatchIsWritten() async throws {
        let repo = GatedAuditRepository()  // stalled: nothing is written yet
        let queue = AuditQueue(repository: repo, capacity: 100, batchSize: 10)
        let writer = Task { await queue.run() }
        let ran = Mutex<[Int]>([])
        queue.submit(event(0))
        queue.submit(event(1), whenWritten: { ran.withLock { $0.append(1) } })
        queue.submit(event(2))
        try await Task.sleep(for: .milliseconds(200))
        #expect(ran.withLock { $0 }.isEmpty, "nothing is written while the store is stalled")
        repo.stalled.withLock { $0 = false }
        for _ in 0..<200 where ran.withLock({ $0 }).isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(ran.withLock { $0 } == [1])
        #expect(repo.inner.all.map(\.host).contains("h1.test"), "written before its callback ran")
        await queue.drain()
        await writer.value
    }

    @Test func aDroppedEventDoesNotKeepItsWaiterWaiting() async throws {
        let repo = GatedAuditRepository()
        let queue = AuditQueue(repository: repo, capacity: 2, batchSize: 1)  // hard limit 8
        for i in 0..<8 { queue.submit(event(i)) }
        let ran = Mutex(false)
        queue.submit(event(8), whenWritten: { ran.withLock { $0 = true } })
        #expect(queue.droppedCount == 1)
        #expect(ran.withLock { $0 }, "a dropped event's waiter runs at once")
    }

    @Test func aRefusedTransparentConnectionClosesOnlyAfterItsEntryIsWritten() async throws {
        let repo = GatedAuditRepository()  // stalled until the test lets it write
        let h = try await Harness.start(repository: repo) {
            $0.transparentBind = try! SocketAddress(ipAddress: "127.0.0.1", port: 0)
        }
        do {
            let port = try #require(h.transparentPort)
            // Not redirected by the host: no original destination, refused.
            let (channel, done, _) = try await RawClient.open(port: port)
            try await Task.sleep(for: .milliseconds(300))
            #expect(channel.isActive, "closed before its entry was written")
            #expect(repo.inner.all.isEmpty)
            let closedAt = Mutex<Int?>(nil)
            done.whenComplete { _ in closedAt.withLock { $0 = repo.inner.all.count } }
            repo.stalled.withLock { $0 = false }
            _ = try? await done.get()
            try await channel.closeFuture.get()
            let seen = try #require(closedAt.withLock { $0 })
            #expect(seen >= 1, "the entry is in the store when the client sees the close")
            let entry = try #require(repo.inner.all.first { $0.via == .transparent })
            #expect(entry.rejectedBy == AuditVocabulary.noOriginalDestination, "\(entry)")
        } catch {
            await h.stop()
            throw error
        }
        await h.stop()
    }

    @Test func aStoreThatNeverWritesDoesNotHoldTheConnectionPastTheBound() async throws {
        let repo = GatedAuditRepository()  // stalled for the whole test
        let h = try await Harness.start(repository: repo) {
            $0.transparentBind = try! SocketAddress(ipAddress: "127.0.0.1", port: 0)
        }
        let port = try #require(h.transparentPort)
        let started = Date()
        let (channel, _, _) = try await RawClient.open(port: port)
        try await channel.closeFuture.get()
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 1.5 && waited < 10, "closed at the bound (\(CloseAfterWrite.bound)), after \(waited) s")
        repo.stalled.withLock { $0 = false }
        await h.stop()
    }
}
