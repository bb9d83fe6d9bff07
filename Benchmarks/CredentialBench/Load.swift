import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The bench's client: each connection CONNECTs through the gateway as a sandbox (proxy
/// Basic credentials), then speaks HTTPS to the origin through the gateway's leaf.
struct BenchLoad {
    let group: any EventLoopGroup
    let proxyPort: Int
    let target: String
    let tls: NIOSSLContext
    /// What the bulk body is searched for afterwards (outside the timed part).
    let secret: Data
    let placeholder: Data

    struct Requests { let rate: Double; let failures: Int; let responses: Int }
    struct Bulk { let bytes: Int; let seconds: Double; let secretSeen: Int; let placeholdersSeen: Int }

    /// `concurrency` connections sending GET / after GET for `seconds`.
    func requests(sandbox: String, authorization: String?, concurrency: Int, seconds: Double) async throws -> Requests {
        var channels: [(any Channel, Worker)] = []
        for _ in 0..<concurrency {
            let worker = Worker(authority: target, authorization: authorization, path: "/")
            channels.append((try await open(sandbox: sandbox, worker: worker), worker))
        }
        let start = NIODeadline.now()
        let deadline = start + .nanoseconds(Int64(seconds * 1e9))
        var futures: [EventLoopFuture<Worker.Result>] = []
        for (channel, worker) in channels {
            futures.append(channel.eventLoop.flatSubmit { worker.run(until: deadline, keep: false) })
        }
        var done = 0, failures = 0
        for f in futures {
            let r = try await f.get()
            done += r.responses
            failures += r.failures
        }
        let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        for (channel, _) in channels { try? await channel.close() }
        return Requests(rate: Double(done) / elapsed, failures: failures, responses: done)
    }

    /// One GET of /bulk?mib=N: the time from the request to the body's end.
    func bulk(sandbox: String, authorization: String?, mebibytes: Int) async throws -> Bulk {
        let worker = Worker(authority: target, authorization: authorization, path: "/bulk?mib=\(mebibytes)")
        let channel = try await open(sandbox: sandbox, worker: worker)
        let start = NIODeadline.now()
        let r = try await channel.eventLoop.flatSubmit { worker.run(until: start, keep: true) }.get()
        let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        try? await channel.close()
        return Bulk(bytes: r.body.count, seconds: elapsed, secretSeen: Self.count(r.body, secret),
                    placeholdersSeen: Self.count(r.body, placeholder))
    }

    static func count(_ data: Data, _ needle: Data) -> Int {
        var n = 0
        var from = data.startIndex
        while let r = data.range(of: needle, in: from..<data.endIndex) { n += 1; from = r.upperBound }
        return n
    }

    /// A connection through the gateway, TLS up, `worker` at the end of the pipeline.
    func open(sandbox: String, worker: Worker) async throws -> any Channel {
        let token = sandbox == "sbx_inject" ? "inject" : "plain"
        let connect = ConnectHandler(target: target, credentials: Data("\(sandbox):\(token)".utf8).base64EncodedString())
        let channel = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { $0.pipeline.addHandler(connect) }
            .connect(host: "127.0.0.1", port: proxyPort).get()
        try await connect.established.futureResult.get()
        let host = String(target.split(separator: ":")[0])
        let tls = self.tls
        try await channel.eventLoop.submit {
            let ops = channel.pipeline.syncOperations
            _ = ops.removeHandler(connect)
            try ops.addHandler(NIOSSLClientHandler(context: tls, serverHostname: host))
            try ops.addHTTPClientHandlers()
            try ops.addHandler(worker)
        }.get()
        return channel
    }
}

/// Sends CONNECT with the sandbox's proxy credentials and waits for the 200.
final class ConnectHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let target: String
    let credentials: String
    var established: EventLoopPromise<Void>!
    var received = ""

    init(target: String, credentials: String) {
        self.target = target
        self.credentials = credentials
    }

    func handlerAdded(context: ChannelHandlerContext) { established = context.eventLoop.makePromise() }

    func channelActive(context: ChannelHandlerContext) {
        let head = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\nProxy-Authorization: Basic \(credentials)\r\n\r\n"
        context.writeAndFlush(NIOAny(ByteBuffer(string: head)), promise: nil)
        context.fireChannelActive()
    }

    var settled = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += String(buffer: unwrapInboundIn(data))
        guard !settled, received.contains("\r\n\r\n") else { return }
        settled = true
        if received.hasPrefix("HTTP/1.1 200") {
            established.succeed(())
        } else {
            established.fail(BenchError("CONNECT refused: \(received.prefix(200))"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !settled { established.fail(BenchError("the gateway closed during CONNECT")) }
        settled = true
        context.fireChannelInactive()
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// GET after GET on one connection until the deadline (or one, keeping the body).
final class Worker: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    struct Result { var responses = 0; var failures = 0; var body = Data() }

    let authority: String
    let authorization: String?
    let path: String
    var context: ChannelHandlerContext?
    var deadline = NIODeadline.now()
    var keep = false
    var result = Result()
    var promise: EventLoopPromise<Result>?

    init(authority: String, authorization: String?, path: String) {
        self.authority = authority
        self.authorization = authorization
        self.path = path
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func run(until deadline: NIODeadline, keep: Bool) -> EventLoopFuture<Result> {
        let context = self.context!
        self.deadline = deadline
        self.keep = keep
        let p = context.eventLoop.makePromise(of: Result.self)
        promise = p
        send(context)
        return p.futureResult
    }

    func send(_ context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: authority)
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if head.status != .ok { result.failures += 1 }
        case .body(let bytes):
            if keep { result.body.append(contentsOf: bytes.readableBytesView) }
        case .end:
            result.responses += 1
            if !keep && NIODeadline.now() < deadline {
                send(context)
            } else {
                promise?.succeed(result)
                promise = nil
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise?.fail(BenchError("the connection closed after \(result.responses) responses"))
        promise = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise?.fail(error)
        promise = nil
        context.close(promise: nil)
    }
}
