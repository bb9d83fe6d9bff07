import NIOCore
import NIOTLS
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

extension TunnelHandler {
    /// Terminates TLS for `origin` (INSPECTION.md): the client leg gets a TLS server
    /// presenting a leaf for the SNI from the sandbox's CA, fed with the held ClientHello;
    /// once its handshake is done, the upstream leg gets a verified TLS client; then both
    /// carry an HTTP stream whose every request is decided on its own.
    func handOverToTLS(_ hello: ByteBuffer, origin: Target, keepTunnelRecord: Bool, _ context: ChannelHandlerContext) {
        guard let tls = env.tls, let upstream, let address = machine.address, case .name(let sni) = origin.host else {
            machine.fail("the connection cannot be terminated here")
            return perform(.refuse(nil), context)
        }
        let server: any ChannelHandler
        do {
            server = try tls.serverHandler(sandboxID: machine.sandbox.sandboxID, sni: sni, alpn: TerminationBridge.clientALPN)
        } catch {
            machine.fail("cannot terminate TLS for \(sni): \(error)")
            return perform(.refuse(nil), context)
        }
        let bridge = TerminationBridge(env: env, origin: origin, address: address, sandbox: machine.sandbox, via: via,
                                       upstream: upstream, tls: tls, tunnelRecord: keepTunnelRecord ? machine.record : nil)
        handOver(keepingRecord: false)
        do {
            if let glue = takeUpstreamGlue() { upstream.pipeline.syncOperations.removeHandler(glue, promise: nil) }
            // Nothing is read from the upstream until its own TLS is in place.
            try upstream.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
            let pipeline = context.pipeline.syncOperations
            try pipeline.addHandler(server, position: .first)
            try pipeline.addHandler(bridge, position: .after(server))
            finishHandOver()
            pipeline.removeHandler(context: context, promise: nil)
            context.channel.pipeline.fireChannelRead(NIOAny(hello))
            context.channel.pipeline.fireChannelReadComplete()
            context.channel.read()
        } catch {
            machine.fail("could not terminate TLS: \(error)")
            context.close(promise: nil)
        }
    }
}

/// Between the client's TLS handshake and the HTTP stream: starts the upstream's verified
/// TLS once the client's handshake is done (offering what the client chose), holds what the
/// client sends meanwhile, and installs the stream — or, when the upstream's certificate
/// does not verify, a stream that answers every request 502 with the reason. A client that
/// does not complete the handshake (it does not trust the sandbox's CA) is logged and closed.
final class TerminationBridge: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    /// What the client leg offers: HTTP/2 first.
    static let clientALPN = ["h2", "http/1.1"]

    private enum State {
        case clientHandshake
        case upstreamHandshake
        case streaming
        case closed
    }

    private let env: ProxyEnvironment
    private let origin: Target
    private let address: IPAddress
    private let sandbox: SandboxContext
    private let via: AuditVia
    private let upstream: any Channel
    private let tls: any TLSProvider
    private var tunnelRecord: AuditRecord?
    private var state: State = .clientHandshake
    /// What the client leg's ALPN chose.
    private var clientProtocol: String?
    private var held = CircularBuffer<ByteBuffer>()
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?

    init(env: ProxyEnvironment, origin: Target, address: IPAddress, sandbox: SandboxContext, via: AuditVia,
         upstream: any Channel, tls: any TLSProvider, tunnelRecord: AuditRecord?) {
        self.env = env
        self.origin = origin
        self.address = address
        self.sandbox = sandbox
        self.via = via
        self.upstream = upstream
        self.tls = tls
        self.tunnelRecord = tunnelRecord
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // The handshakes must complete in the time a request head may take.
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: env.settings.headTimeout) {
            let (bridge, context) = bound.value
            guard bridge.context != nil else { return }
            bridge.refuse("the TLS handshake did not complete in time", context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted(let negotiated) = event, case .clientHandshake = state else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        state = .upstreamHandshake
        startUpstream(clientChose: negotiated, context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Requests sent before the upstream is ready wait here, bounded (and reads stop).
        let bytes = unwrapInboundIn(data)
        heldBytes += bytes.readableBytes
        guard heldBytes <= env.settings.maxHeadBytes + env.settings.maxHeldBytes else {
            return refuse("more than \(env.settings.maxHeadBytes + env.settings.maxHeldBytes) bytes arrived before the upstream was ready",
                          context)
        }
        held.append(bytes)
    }

    /// Reads stop while decrypted bytes wait for the upstream (the TLS handshake's own reads
    /// go on: nothing is held before it completes).
    func read(context: ChannelHandlerContext) {
        if held.isEmpty {
            context.read()
        } else {
            pendingRead = true
        }
    }

    private var heldBytes = 0
    private var pendingRead = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch state {
        case .clientHandshake:
            refuse("the client did not complete the TLS handshake for \(origin.host) (does it trust the sandbox's CA?): \(error)",
                   context)
        case .upstreamHandshake, .streaming, .closed:
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .closed = state {} else if case .streaming = state {} else {
            state = .closed
            upstream.close(promise: nil)
            writeTunnelRecord()
        }
        context.fireChannelInactive()
    }

    /// What the upstream leg offers for what the client chose (INSPECTION.md): h2 with an
    /// HTTP/1.1 fallback for an h2 client, HTTP/1.1 for an HTTP/1.1 one.
    static func upstreamALPN(clientChose: String?) -> [String] {
        clientChose == "h2" ? ["h2", "http/1.1"] : ["http/1.1"]
    }

    /// The client's handshake is done: the upstream's TLS, offering what the client chose.
    private func startUpstream(clientChose: String?, _ context: ChannelHandlerContext) {
        clientProtocol = clientChose
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        Self.secure(upstream, host: origin.host, alpn: Self.upstreamALPN(clientChose: clientChose), tls: tls).whenComplete { result in
            let (bridge, context) = bound.value
            guard case .upstreamHandshake = bridge.state, bridge.context != nil else { return }
            switch result {
            case .success(let chosen): bridge.stream(.ready(chosen), context)
            case .failure(let error): bridge.stream(.failed(bridge.tls.upstreamFailureReason(error, host: bridge.origin.host)), context)
            }
        }
    }

    /// Adds a verified TLS client to a connected upstream; succeeds with the ALPN it chose
    /// once the handshake is done (and the watcher gone), fails with the handshake's error.
    static func secure(_ upstream: any Channel, host: TargetHost, alpn: [String], tls: any TLSProvider) -> EventLoopFuture<String?> {
        let promise = upstream.eventLoop.makePromise(of: String?.self)
        do {
            let client = try tls.clientHandler(host: host, alpn: alpn)
            let watcher = UpstreamHandshakeWatcher { result in
                switch result {
                case .success(let chosen):
                    if let watcher = try? upstream.pipeline.syncOperations.handler(type: UpstreamHandshakeWatcher.self) {
                        upstream.pipeline.syncOperations.removeHandler(watcher, promise: nil)
                    }
                    promise.succeed(chosen)
                case .failure(let error):
                    promise.fail(error)
                }
            }
            try upstream.pipeline.syncOperations.addHandler(client, position: .first)
            try upstream.pipeline.syncOperations.addHandler(watcher, position: .after(client))
            try upstream.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        } catch {
            promise.fail(error)
        }
        return promise.futureResult
    }

    private enum Upstream {
        case ready(String?)
        case failed(String)
    }

    /// Installs the HTTP stream over the terminated connection, hands it what the client sent
    /// meanwhile, and leaves.
    private func stream(_ upstreamState: Upstream, _ context: ChannelHandlerContext) {
        timer?.cancel()
        state = .streaming
        let clientHTTP2 = clientProtocol == "h2"
        let source: any UpstreamSource
        switch upstreamState {
        case .ready(let chosen):
            do {
                if !clientHTTP2 {
                    source = try FixedUpstream(channel: upstream)
                } else if chosen == "h2" {
                    source = try HTTP2Upstream(channel: upstream, settings: env.settings)
                } else {
                    // An HTTP/1.1 upstream for an h2 client: more connections as streams need them.
                    let (env, tls, host, address, port) = (env, tls, origin.host, address, origin.port ?? 443)
                    source = try HTTP1Pool(first: upstream, maximum: env.settings.maxUpstreamConnectionsPerClient) { loop in
                        env.dialler.connect(to: address, port: port, on: loop).flatMap { channel in
                            TerminationBridge.secure(channel, host: host, alpn: ["http/1.1"], tls: tls).map { _ in channel }
                                .flatMapErrorThrowing { error in
                                    channel.close(promise: nil)
                                    throw UpstreamUnavailable(description: tls.upstreamFailureReason(error, host: host))
                                }
                        }
                    }
                }
            } catch {
                source = FailedUpstream(reason: "the upstream connection could not carry HTTP: \(error)")
            }
        case .failed(let reason):
            upstream.close(promise: nil)
            source = FailedUpstream(reason: reason)
        }
        let binding = HTTPStreamHandler.Origin(host: origin.host, port: origin.port ?? 443, address: address, sandbox: sandbox,
                                               via: via, upstream: source, terminated: true)
        // Both legs are up: the connection's own line says it was terminated, as its
        // requests' lines do.
        tunnelRecord?.terminated = true
        do {
            if clientHTTP2 {
                try TerminatedConnection.installHTTP2(on: context.channel, origin: binding, env: env, record: tunnelRecord,
                                                      after: context)
            } else {
                try HTTPStreamHandler.installFixed(on: context.channel, origin: binding, env: env, tunnelRecord: tunnelRecord,
                                                   after: context)
            }
            tunnelRecord = nil
            // What the client sent meanwhile goes to the stream first, then this bridge leaves.
            while let bytes = held.popFirst() { context.fireChannelRead(NIOAny(bytes)) }
            context.fireChannelReadComplete()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            if pendingRead { context.channel.read() }
        } catch {
            refuse("the HTTP stream could not start: \(error)", context)
        }
    }

    /// The tunnel ends before any request could be answered: its line says why.
    private func refuse(_ reason: String, _ context: ChannelHandlerContext) {
        if case .closed = state { return }
        state = .closed
        timer?.cancel()
        if tunnelRecord == nil {
            // A transparent connection's line (it has no tunnel line of its own).
            var record = env.record(via, client: context.channel.remoteAddress)
            record.identify(sandbox)
            record.ask(origin)
            record.address = address.description
            tunnelRecord = record
        }
        tunnelRecord?.refuse(.reject, AuditVocabulary.tlsHandshake, reason: reason)
        writeTunnelRecord()
        upstream.close(promise: nil)
        context.close(promise: nil)
    }

    private func writeTunnelRecord() {
        if let record = tunnelRecord {
            tunnelRecord = nil
            env.finish(record)
        }
    }
}

/// Reports the upstream leg's TLS handshake: done (user event) or failed (the first error).
final class UpstreamHandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    private var report: ((Result<String?, any Error>) -> Void)?

    init(report: @escaping (Result<String?, any Error>) -> Void) { self.report = report }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event, let report {
            self.report = nil
            report(.success(negotiated))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let report {
            self.report = nil
            report(.failure(error))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let report {
            self.report = nil
            report(.failure(UpstreamUnavailable(description: "the upstream closed during the TLS handshake")))
        }
        context.fireChannelInactive()
    }
}
