import NIOCore
import NIOPosix
import PortcullisDNS

/// Why forwarding failed (the client gets SERVFAIL, the audit log `error`).
struct DNSForwardError: Error, CustomStringConvertible {
    let description: String
}

/// Asks the upstream resolvers, one after the other: a random query ID per attempt, a
/// timeout per attempt, the next upstream on timeout, send failure or an upstream
/// SERVFAIL/REFUSED/NOTIMP/FORMERR; a truncated UDP answer is asked again over TCP.
/// An answer counts only if it comes from the upstream asked, carries the ID sent and
/// repeats the question asked; anything else is ignored (spoofed or stray), and the real
/// answer may still arrive before the timeout.
///
/// Note to maintainers: all mutable state lives on `eventLoop`; every entry point hops there.
final class DNSForwarder: @unchecked Sendable {
    struct Pending {
        let question: DNSQuestion
        let dnssecOK: Bool
        let upstreamIndex: Int
        let upstream: SocketAddress
        let promise: EventLoopPromise<DNSMessage>
        let timer: Scheduled<Void>
    }

    let upstreams: [SocketAddress]
    let eventLoop: any EventLoop
    let attemptTimeout: TimeAmount
    let maxOutstanding: Int
    let metrics: DNSMetrics
    private var v4: (any Channel)?
    private var v6: (any Channel)?
    private var pending: [UInt16: Pending] = [:]

    private init(upstreams: [SocketAddress], eventLoop: any EventLoop, attemptTimeout: TimeAmount, maxOutstanding: Int,
                 metrics: DNSMetrics) {
        self.upstreams = upstreams
        self.eventLoop = eventLoop
        self.attemptTimeout = attemptTimeout
        self.maxOutstanding = maxOutstanding
        self.metrics = metrics
    }

    /// Opens one UDP socket per address family the upstreams use (ephemeral port).
    static func start(upstreams: [SocketAddress], eventLoop: any EventLoop, attemptTimeout: TimeAmount,
                      maxOutstanding: Int = 4096, metrics: DNSMetrics) async throws -> DNSForwarder {
        let forwarder = DNSForwarder(upstreams: upstreams, eventLoop: eventLoop, attemptTimeout: attemptTimeout,
                                     maxOutstanding: maxOutstanding, metrics: metrics)
        func open(_ wildcard: String) async throws -> any Channel {
            try await DatagramBootstrap(group: eventLoop)
                .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65535))
                .channelOption(ChannelOptions.maxMessagesPerRead, value: 16)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UpstreamAnswerHandler(forwarder: forwarder))
                    }
                }
                .bind(host: wildcard, port: 0).get()
        }
        let v4 = upstreams.contains { if case .v4 = $0 { return true } else { return false } } ? try await open("0.0.0.0") : nil
        let v6 = upstreams.contains { if case .v6 = $0 { return true } else { return false } } ? try await open("::") : nil
        try await eventLoop.submit {
            forwarder.v4 = v4
            forwarder.v6 = v6
        }.get()
        return forwarder
    }

    func stop() async {
        let channels = try? await eventLoop.submit { () -> [any Channel] in
            let open = [self.v4, self.v6].compactMap { $0 }
            self.v4 = nil
            self.v6 = nil
            for (_, p) in self.pending {
                p.timer.cancel()
                p.promise.fail(DNSForwardError(description: "the DNS gateway is stopping"))
            }
            self.pending = [:]
            return open
        }.get()
        for channel in channels ?? [] { try? await channel.close() }
    }

    /// Asks the upstreams `question`; the future completes on `eventLoop`.
    func query(_ question: DNSQuestion, dnssecOK: Bool) -> EventLoopFuture<DNSMessage> {
        let promise = eventLoop.makePromise(of: DNSMessage.self)
        eventLoop.execute { self.attempt(question, dnssecOK: dnssecOK, index: 0, promise: promise) }
        return promise.futureResult
    }

    private func attempt(_ question: DNSQuestion, dnssecOK: Bool, index: Int, promise: EventLoopPromise<DNSMessage>) {
        eventLoop.preconditionInEventLoop()
        guard index < upstreams.count else {
            promise.fail(DNSForwardError(description: "no upstream resolver answered \(question.name) (\(upstreams.count) tried)"))
            return
        }
        let upstream = upstreams[index]
        let channel: (any Channel)?
        switch upstream {
        case .v4: channel = v4
        case .v6: channel = v6
        case .unixDomainSocket: channel = nil
        }
        guard let channel, pending.count < maxOutstanding else {
            metrics.upstreamFailures.increment()
            attempt(question, dnssecOK: dnssecOK, index: index + 1, promise: promise)
            return
        }
        var id = UInt16.random(in: .min ... .max)
        while pending[id] != nil { id = UInt16.random(in: .min ... .max) }
        let queryID = id
        let timer = eventLoop.scheduleTask(in: attemptTimeout) { [self] in
            guard pending.removeValue(forKey: queryID) != nil else { return }
            metrics.upstreamFailures.increment()
            attempt(question, dnssecOK: dnssecOK, index: index + 1, promise: promise)
        }
        pending[queryID] = Pending(question: question, dnssecOK: dnssecOK, upstreamIndex: index, upstream: upstream,
                                   promise: promise, timer: timer)
        let message = DNSMessage(header: DNSHeader(id: queryID, recursionDesired: true), questions: [question],
                                 edns: DNSEDNS(udpPayloadSize: DNSMessage.ourUDPPayloadSize, dnssecOK: dnssecOK))
        let envelope = AddressedEnvelope(remoteAddress: upstream, data: message.write(maxSize: 512))
        channel.writeAndFlush(envelope).whenFailure { [self] _ in
            guard let p = pending.removeValue(forKey: queryID) else { return }
            p.timer.cancel()
            metrics.upstreamFailures.increment()
            attempt(question, dnssecOK: dnssecOK, index: index + 1, promise: promise)
        }
    }

    /// An upstream datagram (on `eventLoop`).
    fileprivate func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard let header = DNSHeader.peek(envelope.data), header.isResponse, let p = pending[header.id],
              Self.same(envelope.remoteAddress, p.upstream),
              let message = try? DNSMessage(parsing: envelope.data), message.questions.count == 1,
              message.questions[0].matches(p.question)
        else {
            metrics.upstreamIgnored.increment()
            return
        }
        pending[header.id] = nil
        p.timer.cancel()
        finish(message, from: p, overTCP: false)
    }

    private func finish(_ message: DNSMessage, from p: Pending, overTCP: Bool) {
        let code = message.header.responseCode
        if code == .serverFailure || code == .refused || code == .notImplemented || code == .formatError {
            metrics.upstreamFailures.increment()
            attempt(p.question, dnssecOK: p.dnssecOK, index: p.upstreamIndex + 1, promise: p.promise)
            return
        }
        guard message.header.truncated, !overTCP else {
            p.promise.succeed(message)
            return
        }
        askOverTCP(p.question, dnssecOK: p.dnssecOK, upstream: p.upstream).whenComplete { [self] result in
            switch result {
            case .success(let full): finish(full, from: p, overTCP: true)
            case .failure:
                metrics.upstreamFailures.increment()
                attempt(p.question, dnssecOK: p.dnssecOK, index: p.upstreamIndex + 1, promise: p.promise)
            }
        }
    }

    /// One query over TCP (RFC 7766), bounded by `attemptTimeout` from connect to answer.
    private func askOverTCP(_ question: DNSQuestion, dnssecOK: Bool, upstream: SocketAddress) -> EventLoopFuture<DNSMessage> {
        let promise = eventLoop.makePromise(of: DNSMessage.self)
        let id = UInt16.random(in: .min ... .max)
        let message = DNSMessage(header: DNSHeader(id: id, recursionDesired: true), questions: [question],
                                 edns: DNSEDNS(udpPayloadSize: DNSMessage.ourUDPPayloadSize, dnssecOK: dnssecOK))
        let once = OncePromise(promise)
        let timeout = attemptTimeout
        let loop = eventLoop
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(UpstreamTCPAnswerHandler(id: id, question: question, once: once))
                }
            }
            .connect(to: upstream)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    channel.writeAndFlush(DNSTCPFrameDecoder.frame(message.write()), promise: nil)
                    let timer = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
                    promise.futureResult.whenComplete { _ in
                        timer.cancel()
                        channel.close(promise: nil)
                    }
                case .failure(let error):
                    once.fail(DNSForwardError(description: "TCP to \(upstream) failed: \(error)"))
                }
            }
        return promise.futureResult
    }

    static func same(_ a: SocketAddress?, _ b: SocketAddress) -> Bool {
        guard let a else { return false }
        return a.port == b.port && a.ipAddress == b.ipAddress
    }
}

/// Completes a promise at most once (several paths may race to end a TCP query).
/// Used on one event loop only.
final class OncePromise: @unchecked Sendable {
    private var done = false
    private let promise: EventLoopPromise<DNSMessage>
    init(_ promise: EventLoopPromise<DNSMessage>) { self.promise = promise }
    func succeed(_ m: DNSMessage) {
        guard !done else { return }
        done = true
        promise.succeed(m)
    }
    func fail(_ e: any Error) {
        guard !done else { return }
        done = true
        promise.fail(e)
    }
}

/// Hands upstream datagrams to the forwarder.
private final class UpstreamAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let forwarder: DNSForwarder
    init(forwarder: DNSForwarder) { self.forwarder = forwarder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        forwarder.received(unwrapInboundIn(data))
    }

    /// ICMP errors (port unreachable) surface here; the timeout handles the attempt.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Reads the one framed answer of a TCP query.
private final class UpstreamTCPAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let id: UInt16
    let question: DNSQuestion
    let once: OncePromise
    init(id: UInt16, question: DNSQuestion, once: OncePromise) {
        self.id = id
        self.question = question
        self.once = once
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let message = try? DNSMessage(parsing: frame), message.header.isResponse, message.header.id == id,
              message.questions.count == 1, message.questions[0].matches(question)
        else {
            once.fail(DNSForwardError(description: "the upstream's TCP answer does not match the query"))
            context.close(promise: nil)
            return
        }
        once.succeed(message)
    }

    func channelInactive(context: ChannelHandlerContext) {
        once.fail(DNSForwardError(description: "the upstream closed the TCP connection without an answer"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        once.fail(DNSForwardError(description: "TCP to the upstream failed: \(error)"))
        context.close(promise: nil)
    }
}
