import NIOCore
import NIOEmbedded
import Testing
@testable import PortcullisProxy

/// The head guard's deadlines on virtual time. Its one scheduled task is kept across
/// requests (a keep-alive connection schedules nothing per request) and moves itself on
/// when the deadline it served moved later: every deadline still fires when due, once.
@Suite struct HeadGuardTests {
    final class Events: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var seen: [(HeadGuardEvent, UInt64)] = []
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? HeadGuardEvent { seen.append((e, context.eventLoop.now.uptimeNanoseconds)) }
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }

    func make(head: Int64, idle: Int64) throws -> (EmbeddedChannel, HeadGuard, Events) {
        let channel = EmbeddedChannel()
        let guardian = HeadGuard(limit: 1024, headTimeout: .seconds(head), idleTimeout: .seconds(idle))
        let events = Events()
        try channel.pipeline.syncOperations.addHandlers([guardian, events])
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 5555)).wait()
        return (channel, guardian, events)
    }

    func at(_ channel: EmbeddedChannel, _ seconds: Int64) {
        let now = channel.embeddedEventLoop.now.uptimeNanoseconds
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(Int64(seconds) * 1_000_000_000 - Int64(now)))
    }

    @Test func anIdleDeadlineMovedByARequestFiresWhenDueNotBefore() throws {
        let (channel, guardian, events) = try make(head: 2, idle: 5)
        at(channel, 1)
        guardian.headReceived()  // a request at 1 s…
        at(channel, 4)
        guardian.awaitHead()  // …answered at 4 s: idle until 9 s
        at(channel, 8)
        #expect(events.seen.isEmpty, "the task scheduled for 2 s moved itself to 9 s")
        at(channel, 9)
        #expect(events.seen.map(\.0) == [.idleTimedOut])
        #expect(events.seen.first?.1 == 9_000_000_000)
        at(channel, 60)
        #expect(events.seen.count == 1)
    }

    @Test func aNewConnectionMaySayNothingOnlyAsLongAsAHeadMayTake() throws {
        let (channel, _, events) = try make(head: 2, idle: 60)
        at(channel, 1)
        #expect(events.seen.isEmpty)
        at(channel, 2)
        #expect(events.seen.map(\.0) == [.idleTimedOut], "silent for the head timeout, not the 60 s idle one")
        let (keptChannel, guardian, kept) = try make(head: 2, idle: 60)
        at(keptChannel, 1)
        guardian.headReceived()
        guardian.awaitHead()  // after a request, the keep-alive idle timeout applies
        at(keptChannel, 60)
        #expect(kept.seen.isEmpty)
        at(keptChannel, 61)
        #expect(kept.seen.map(\.0) == [.idleTimedOut])
    }

    @Test func aHeadDeadlineUnderAnIdleOneFiresFirst() throws {
        let (channel, _, events) = try make(head: 2, idle: 10)
        at(channel, 1)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nX-Slow: "))
        at(channel, 2)
        #expect(events.seen.isEmpty)
        at(channel, 3)
        #expect(events.seen.map(\.0) == [.headTimedOut])
        at(channel, 30)
        #expect(events.seen.count == 1, "one deadline, one event: \(events.seen)")
    }

    @Test func aHeadDeadlineLongerThanTheIdleOneStillFires() throws {
        let (channel, _, events) = try make(head: 8, idle: 3)
        at(channel, 1)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nX-Slow: "))
        at(channel, 8)
        #expect(events.seen.isEmpty, "the idle task (3 s) found the head deadline (9 s) in force")
        at(channel, 9)
        #expect(events.seen.map(\.0) == [.headTimedOut])
    }

    @Test func noDeadlineWhileARequestIsAnswered() throws {
        let (channel, guardian, events) = try make(head: 2, idle: 5)
        at(channel, 1)
        guardian.headReceived()
        at(channel, 100)
        #expect(events.seen.isEmpty)
        guardian.awaitHead()
        at(channel, 104)
        #expect(events.seen.isEmpty)
        at(channel, 105)
        #expect(events.seen.map(\.0) == [.idleTimedOut])
    }

    @Test func aClosedConnectionFiresNothing() throws {
        let (channel, _, events) = try make(head: 2, idle: 5)
        try channel.close().wait()
        at(channel, 60)
        #expect(events.seen.isEmpty)
    }
}

/// The exchange idle deadline: while a request is answered, reads and flushes move it.
@Suite struct HeadGuardExchangeIdleTests {
    func make(exchangeIdle: Int64) throws -> (EmbeddedChannel, HeadGuard, HeadGuardTests.Events) {
        let channel = EmbeddedChannel()
        let guardian = HeadGuard(limit: 1024, headTimeout: .seconds(2), idleTimeout: .seconds(5),
                                 exchangeIdleTimeout: .seconds(exchangeIdle))
        let events = HeadGuardTests.Events()
        try channel.pipeline.syncOperations.addHandlers([guardian, events])
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 5555)).wait()
        return (channel, guardian, events)
    }

    @Test func anExchangeNothingMovesOnFiresOnceWhenDue() throws {
        let (channel, guardian, events) = try make(exchangeIdle: 10)
        HeadGuardTests().at(channel, 1)
        guardian.headReceived()
        HeadGuardTests().at(channel, 10)
        #expect(events.seen.isEmpty, "the idle task (5 s) found the exchange deadline (11 s) in force")
        HeadGuardTests().at(channel, 11)
        #expect(events.seen.map(\.0) == [.exchangeIdleTimedOut])
        #expect(events.seen.first?.1 == 11_000_000_000)
        HeadGuardTests().at(channel, 100)
        #expect(events.seen.count == 1)
    }

    @Test func readsAndFlushesMoveTheDeadline() throws {
        let (channel, guardian, events) = try make(exchangeIdle: 10)
        HeadGuardTests().at(channel, 1)
        guardian.headReceived()
        HeadGuardTests().at(channel, 5)
        try channel.writeInbound(ByteBuffer(string: "body"))  // due 15 s
        HeadGuardTests().at(channel, 14)
        channel.flush()  // due 24 s
        HeadGuardTests().at(channel, 23)
        #expect(events.seen.isEmpty)
        HeadGuardTests().at(channel, 24)
        #expect(events.seen.map(\.0) == [.exchangeIdleTimedOut])
        #expect(events.seen.first?.1 == 24_000_000_000)
    }

    @Test func theNextHeadAwaitedBringsBackTheIdleTimeout() throws {
        let (channel, guardian, events) = try make(exchangeIdle: 100)
        HeadGuardTests().at(channel, 1)
        guardian.headReceived()
        HeadGuardTests().at(channel, 50)
        guardian.awaitHead()  // answered at 50 s: idle until 55 s
        HeadGuardTests().at(channel, 54)
        #expect(events.seen.isEmpty)
        HeadGuardTests().at(channel, 55)
        #expect(events.seen.map(\.0) == [.idleTimedOut])
    }
}
