import Foundation
import NIOCore
import NIOPosix

/// Reads one HTTP/1.x response: head up to CRLFCRLF, then `Content-Length` bytes (a
/// CONNECT reply has none). Counts body bytes without keeping them.
struct ResponseParser {
    var head: [UInt8] = []
    var bodyRemaining: Int?
    var status = 0
    var bodyBytes = 0

    /// Feeds bytes; returns true once the response is complete.
    mutating func feed(_ buffer: inout ByteBuffer, headOnly: Bool = false) -> Bool {
        if bodyRemaining == nil {
            while let byte: UInt8 = buffer.readInteger() {
                head.append(byte)
                if head.count >= 4, head[head.count - 4] == 13, head[head.count - 3] == 10, head[head.count - 2] == 13,
                   head[head.count - 1] == 10 {
                    let text = String(decoding: head, as: UTF8.self)
                    status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
                    var length = 0
                    for line in text.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                        length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
                    }
                    bodyRemaining = headOnly ? 0 : length
                    break
                }
            }
            guard bodyRemaining != nil else { return false }
        }
        let n = min(bodyRemaining!, buffer.readableBytes)
        buffer.moveReaderIndex(forwardBy: n)
        bodyRemaining! -= n
        bodyBytes += n
        return bodyRemaining == 0
    }

    mutating func reset() { self = ResponseParser() }
}

/// One client connection's conversation: optional CONNECT, then requests.
final class Conversation: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    enum Phase { case connectReply, response }

    let connectHead: String?
    let request: String
    let repeatRequests: Bool
    let stopAt: NIODeadline
    let done: EventLoopPromise<Conversation>
    let started = NIODeadline.now()
    var setup: NIODeadline?
    var phase: Phase
    var parser = ResponseParser()
    var responses = 0
    var bytes = 0
    var failed = false
    var holdOpen = false
    let onIdleReady: (() -> Void)?

    init(connectHead: String?, request: String, repeatRequests: Bool, stopAt: NIODeadline, done: EventLoopPromise<Conversation>,
         holdOpen: Bool = false, onIdleReady: (() -> Void)? = nil) {
        self.connectHead = connectHead
        self.request = request
        self.repeatRequests = repeatRequests
        self.stopAt = stopAt
        self.done = done
        self.phase = connectHead == nil ? .response : .connectReply
        self.holdOpen = holdOpen
        self.onIdleReady = onIdleReady
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(string: connectHead ?? request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        while buffer.readableBytes > 0 {
            switch phase {
            case .connectReply:
                guard parser.feed(&buffer, headOnly: true) else { return }
                guard parser.status == 200 else {
                    failed = true
                    context.close(promise: nil)
                    return
                }
                setup = .now()
                parser.reset()
                phase = .response
                context.writeAndFlush(NIOAny(ByteBuffer(string: request)), promise: nil)
            case .response:
                guard parser.feed(&buffer) else { return }
                responses += 1
                bytes += parser.bodyBytes
                if parser.status != 200 { failed = true }
                parser.reset()
                if holdOpen {
                    onIdleReady?()
                    return
                }
                if repeatRequests, NIODeadline.now() < stopAt, !failed {
                    context.writeAndFlush(NIOAny(ByteBuffer(string: request)), promise: nil)
                } else {
                    context.close(promise: nil)
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) { done.succeed(self) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failed = true
        context.close(promise: nil)
    }
}

enum Load {
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func rss(_ pids: [Int32]) -> Int {
        var total = 0
        for pid in pids {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                total += Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
            }
        }
        return total
    }

    static func run() async throws {
        let mode = args.count > 1 ? args[1] : "tunnel"
        let target = option("--target", "localhost:8080")!
        let proxy = option("--proxy")
        let concurrency = Int(option("--concurrency", "32")!)!
        let seconds = Double(option("--seconds", "5")!)!
        let label = option("--label", proxy ?? "direct")!
        let host = String(target.split(separator: ":")[0])
        let group = MultiThreadedEventLoopGroup(numberOfThreads: Int(option("--threads", "1")!)!)
        let (proxyHost, proxyPort): (String, Int) = proxy.map { p in
            (String(p.split(separator: ":")[0]), Int(p.split(separator: ":")[1])!)
        } ?? (host == "localhost" ? "127.0.0.1" : host, Int(target.split(separator: ":")[1])!)
        let stopAt = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))

        func conversation(loop: any EventLoop, path: String, keepAlive: Bool, tunnel: Bool, holdOpen: Bool = false,
                          ready: (() -> Void)? = nil) -> EventLoopFuture<Conversation> {
            let promise = loop.makePromise(of: Conversation.self)
            let viaProxy = proxy != nil
            let connect = (viaProxy && tunnel) ? "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n\r\n" : nil
            let uri = (viaProxy && !tunnel) ? "http://\(target)\(path)" : path
            let request = "GET \(uri) HTTP/1.1\r\nHost: \(target)\r\n" + (keepAlive ? "" : "Connection: close\r\n") + "\r\n"
            let handler = Conversation(connectHead: connect, request: request, repeatRequests: keepAlive && !holdOpen,
                                       stopAt: stopAt, done: promise, holdOpen: holdOpen, onIdleReady: ready)
            ClientBootstrap(group: loop)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(handler) } }
                .connect(host: proxyHost, port: proxyPort)
                .whenFailure { _ in
                    handler.failed = true
                    promise.succeed(handler)
                }
            return promise.futureResult
        }

        switch mode {
        case "tunnel":
            // Open, CONNECT, one request/response, close; repeated by `concurrency` workers.
            let results = try await withThrowingTaskGroup(of: ([Double], Int, Int).self) { tasks in
                for _ in 0..<concurrency {
                    tasks.addTask {
                        var latencies: [Double] = []
                        var ok = 0, failures = 0
                        let loop = group.next()
                        while NIODeadline.now() < stopAt {
                            let c = try await conversation(loop: loop, path: "/", keepAlive: false, tunnel: true).get()
                            if c.failed || c.responses != 1 {
                                failures += 1
                                continue
                            }
                            ok += 1
                            let end = c.setup ?? .now()
                            latencies.append(Double((end - c.started).nanoseconds) / 1e6)
                        }
                        return (latencies, ok, failures)
                    }
                }
                var all: [Double] = [], ok = 0, failures = 0
                for try await (l, o, f) in tasks {
                    all += l
                    ok += o
                    failures += f
                }
                return (all.sorted(), ok, failures)
            }
            say("{\"label\":\"\(label)\",\"mode\":\"tunnel\",\"rate\":\(Double(results.1) / seconds),\"p50_ms\":\(percentile(results.0, 0.5)),\"p99_ms\":\(percentile(results.0, 0.99)),\"failures\":\(results.2)}")
        case "http":
            let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { tasks in
                for _ in 0..<concurrency {
                    tasks.addTask {
                        let c = try await conversation(loop: group.next(), path: "/", keepAlive: true, tunnel: false).get()
                        return (c.responses, c.failed)
                    }
                }
                var total = 0, failures = 0
                for try await (n, f) in tasks {
                    total += n
                    if f { failures += 1 }
                }
                return (total, failures)
            }
            say("{\"label\":\"\(label)\",\"mode\":\"http\",\"rate\":\(Double(results.0) / seconds),\"failures\":\(results.1)}")
        case "bulk":
            let mb = Int(option("--mb", "256")!)!
            let start = NIODeadline.now()
            let bytes = try await withThrowingTaskGroup(of: Int.self) { tasks in
                for _ in 0..<concurrency {
                    tasks.addTask {
                        try await conversation(loop: group.next(), path: "/bulk?mb=\(mb)", keepAlive: false, tunnel: true).get().bytes
                    }
                }
                var total = 0
                for try await n in tasks { total += n }
                return total
            }
            let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
            say("{\"label\":\"\(label)\",\"mode\":\"bulk\",\"tunnels\":\(concurrency),\"mib_per_s\":\(Double(bytes) / 1048576 / elapsed)}")
        case "idle":
            // Opens `concurrency` tunnels, each with one exchange done, and reports the proxy's
            // resident memory growth per tunnel.
            let pids = (option("--pid") ?? "").split(separator: ",").compactMap { Int32($0) }
            let before = rss(pids)
            let readyCount = ManagedCounter()
            var conversations: [EventLoopFuture<Conversation>] = []
            var opened = 0
            while opened < concurrency {
                let batch = min(200, concurrency - opened)
                let target = readyCount.value + batch
                for _ in 0..<batch {
                    conversations.append(conversation(loop: group.next(), path: "/", keepAlive: true, tunnel: true,
                                                      holdOpen: true, ready: { readyCount.increment() }))
                }
                opened += batch
                let deadline = NIODeadline.now() + .seconds(20)
                while readyCount.value < target, NIODeadline.now() < deadline { try await Task.sleep(for: .milliseconds(5)) }
            }
            try await Task.sleep(for: .seconds(1))
            let after = rss(pids)
            let ready = readyCount.value
            say("{\"label\":\"\(label)\",\"mode\":\"idle\",\"tunnels\":\(ready),\"kib_per_tunnel\":\(Double(after - before) / Double(max(1, ready))),\"rss_before_kib\":\(before),\"rss_after_kib\":\(after)}")
            flushOutput()
            try? await group.shutdownGracefully()
            exit(0)
        default:
            throw NSError(domain: "load", code: 2)
        }
        try await group.shutdownGracefully()
    }
}

final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    var value: Int { lock.withLock { n } }
    func increment() { lock.withLock { n += 1 } }
}
