import NIOCore
import PortcullisModel
import PortcullisPolicy
import PortcullisWire

/// Where a redirected connection was going before the host's nftables rule sent it to the
/// transparent listener (`SO_ORIGINAL_DST` / `IP6T_SO_ORIGINAL_DST`, read by the runtime).
public struct OriginalDestination: Hashable, Sendable {
    public let address: IPAddress
    public let port: UInt16
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }
}

/// The transparent listener's handler: a connection whose destination was fixed by the
/// sandbox itself (the host redirected it here), decided and logged with `via: transparent`
/// exactly as the proxy decides a CONNECT (docs/data-plane.md, "Transparent connections").
///
/// 1. No readable original destination, or the listener's own address: closed,
///    `no-original-destination`. A source address of no sandbox: closed, `unknown-source`.
/// 2. The address is attributed to the name the DNS gateway handed this sandbox for it,
///    else it stays an IP literal; that target is decided at once (name stage with the
///    destination port, then the address stage and the guard on the original address). When
///    it is permitted the original address is dialled at once and upstream bytes flow (server-
///    first protocols are not delayed); otherwise nothing is dialled until the first bytes
///    name something, or `firstBytesTimeout` after accept it is rejected on that decision.
/// 3. The client's first bytes are held (bounded, deadline from the first byte) and peeked
///    (`TransparentPeek`): an SNI or Host becomes the target; HTTP makes method and path
///    visible. A claimed name other than the attributed one must resolve to the dialled
///    address (this sandbox's DNS answers, else a fresh lookup), else `address-mismatch`;
///    `TunnelCheck` then applies the proxy's own checks (no SNI to a name: `sni-missing`;
///    several Host headers: `host-mismatch`). The target is decided again and, when
///    permitted, the held bytes go upstream and this handler leaves the pipeline.
/// 4. Rejections write the audit line, then close the connection; no byte goes back.
///
/// Plain HTTP stays watched: `HTTPRequestFramer` follows the request framing, and every
/// later request on the kept-alive connection must name the same Host and is decided again
/// on its method and path; a rejected one is logged on its own line and closes the
/// connection before any of its bytes go upstream (docs/policy.md, "Transparent connections").
final class TransparentHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Phase {
        /// Nothing dialled: the attributed target was rejected, the first bytes may still name an allowed one.
        case waiting
        /// Dialling the original destination.
        case dialling
        /// The tunnel is installed; the client's first bytes are still held.
        case connected
        /// A claimed name is being resolved to check it against the dialled address.
        case resolving
        /// Plain HTTP passed: every later request head is checked as it passes.
        case following
        /// Verdict given: bytes pass (the handler is being removed), or the connection is closing.
        case done
    }

    private let gate: any EgressGate
    private let destination: OriginalDestination?
    private let peek: TransparentPeek
    private var phase: Phase = .waiting
    private var started = false
    private var record: AttemptRecord?
    private var sandbox: SandboxContext?
    /// The target decided so far, and its decision (the attributed one until the bytes speak).
    private var target: Target?
    private var decision: Decision?
    /// Whether the first bytes have been judged (the target is final).
    private var judged = false
    private var upstream: (any Channel)?
    private var held: ByteBuffer?
    private var deadline: Scheduled<Void>?
    /// Set when the first bytes were a plain HTTP request: the connection stays watched.
    private var framer: HTTPRequestFramer?
    /// The held bytes went upstream: what still arrives passes (never after a rejection).
    private var released = false

    init(gate: any EgressGate, destination: OriginalDestination?) {
        self.gate = gate
        self.destination = destination
        self.peek = TransparentPeek(maxHeldBytes: gate.settings.maxHeldBytes)
    }

    /// Adds the transparent handler to an accepted channel; `destination` is what the
    /// runtime read from the socket (nil: none).
    static func install(on channel: any Channel, gate: any EgressGate, destination: OriginalDestination?) throws {
        try channel.pipeline.syncOperations.addHandler(TransparentHandler(gate: gate, destination: destination))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Closed before a tunnel took over the record: write what was decided so far.
        if case .done = phase {} else if upstream == nil { record?.finish() }
        if upstream == nil { phase = .done }
        context.fireChannelInactive()
    }

    // MARK: accept

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let record = AttemptRecord(gate: gate, client: context.remoteAddress.auditText, via: AuditVocabulary.viaTransparent)
        self.record = record
        guard let destination, !Self.isListener(destination, context.channel.localAddress) else {
            record.failure(action: "reject", rejectedBy: ProxyVocabulary.noOriginalDestination,
                           reason: "the connection has no original destination (not redirected to the transparent listener)",
                           status: nil)
            return finishRejected(context: context)
        }
        let address = destination.address
        record.event.host = address.description
        record.event.address = address.description
        record.event.port = Int(destination.port)
        guard let sandbox = gate.authenticate(nil, source: context.remoteAddress) else {
            record.failure(action: "reject", rejectedBy: ProxyVocabulary.unknownSource,
                           reason: "the source address \(context.remoteAddress?.ipAddress ?? "?") belongs to no sandbox",
                           status: nil)
            return finishRejected(context: context)
        }
        self.sandbox = sandbox
        record.event.sandboxID = sandbox.sandboxID
        record.event.tenantID = sandbox.tenantID
        record.event.policyVersion = sandbox.policy.version
        guard gate.openConnection(sandboxID: sandbox.sandboxID) else {
            record.failure(action: "reject", rejectedBy: ProxyVocabulary.sandboxConnectionLimit,
                           reason: "this sandbox already has \(gate.settings.maxConnectionsPerSandbox) open connections",
                           status: nil)
            return finishRejected(context: context)
        }
        record.countedSandbox = sandbox.sandboxID
        let host: TargetHost = gate.attributedName(for: address, sandboxID: sandbox.sandboxID).map { .name($0) }
            ?? .address(address)
        let target = Target(host: host, port: destination.port, transport: .tcp, request: .opaque)
        let decision = decide(target, sandbox: sandbox, address: address)
        self.target = target
        self.decision = decision
        record.apply(decision, target: target, sandbox: sandbox)
        if decision.verdict.permits {
            dial(context: context)
        } else {
            // Only the first bytes can still name an allowed target; wait for them, bounded from accept.
            armDeadline(context: context)
        }
    }

    /// Name stage, then the address stage (and the guard) on the original address.
    private func decide(_ target: Target, sandbox: SandboxContext, address: IPAddress) -> Decision {
        let t0 = NIODeadline.now()
        let decision = sandbox.policy.check(sandbox.policy.decide(target), dialling: address, for: target)
        gate.observeDecision(nanoseconds: (NIODeadline.now() - t0).nanoseconds)
        return decision
    }

    /// The original destination is the listener itself: the connection was not redirected.
    static func isListener(_ destination: OriginalDestination, _ local: SocketAddress?) -> Bool {
        guard let local, let ip = IPAddress(socketAddress: local), let port = local.port else {
            return false
        }
        return ip == destination.address && port == Int(destination.port)
    }

    // MARK: first bytes

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .following:
            let bytes = unwrapInboundIn(data)
            guard follow(bytes, context: context) else { return }
            context.fireChannelRead(data)
            return
        case .done:
            // Passing through while being removed, or discarding after a rejection.
            if released { context.fireChannelRead(data) }
            return
        case .waiting, .dialling, .connected, .resolving:
            break
        }
        var bytes = unwrapInboundIn(data)
        if held == nil { held = bytes } else { held!.writeBuffer(&bytes) }
        guard !judged else { return }
        if case .resolving = phase { return }
        judge(context: context)
        if !judged, deadline == nil { armDeadline(context: context) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if !judged, let event = event as? ChannelEvent, case .inputClosed = event {
            if held != nil {
                return rejectMalformed("the client closed before its first message was complete", context: context)
            }
            if case .waiting = phase {
                return rejectWith(decision, reason: nil, context: context)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func armDeadline(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: gate.settings.firstBytesTimeout) {
            let (handler, context) = loopBound.value
            handler.deadlineReached(context: context)
        }
    }

    private func deadlineReached(context: ChannelHandlerContext) {
        deadline = nil
        guard !judged else { return }
        switch phase {
        case .done, .resolving, .following:
            return
        case .waiting:
            if held == nil {
                return rejectWith(decision, reason: "no client bytes named another destination within the deadline",
                                  context: context)
            }
            rejectMalformed("the first bytes did not complete in time", context: context)
        case .dialling, .connected:
            if held != nil { rejectMalformed("the first bytes did not complete in time", context: context) }
        }
    }

    private func judge(context: ChannelHandlerContext) {
        guard let held, let sandbox, let destination, let record, let attributed = target else { return }
        switch peek.evaluate(held) {
        case .waitForMore:
            return
        case .malformed(let message):
            rejectMalformed(message, context: context)
        case .inconsistent(let inconsistency, let sni):
            record.event.sni = sni
            rejectWith(sandbox.policy.reject(inconsistency, for: attributed), reason: nil, context: context)
        case .opaque:
            conclude(attributed, decision: decision, context: context)
        case .claim(let claimed, let request, let sni):
            record.event.sni = sni
            let final = Target(host: claimed ?? attributed.host, port: destination.port, transport: .tcp, request: request)
            switch TunnelCheck(host: final.host, maxHeldBytes: peek.maxHeldBytes).evaluate(held) {
            case .forward:
                break
            case .reject(let inconsistency, _):
                return rejectWith(sandbox.policy.reject(inconsistency, for: final), reason: nil, context: context)
            case .malformed(let message):
                return rejectMalformed(message, context: context)
            case .waitForMore:
                return
            }
            let nameDecision = decide(final, sandbox: sandbox, address: destination.address)
            guard let claimed, claimed != attributed.host else {
                return conclude(final, decision: nameDecision, context: context)
            }
            // A claim other than the attributed target must resolve to the dialled address.
            switch claimed {
            case .address(let ip):
                guard ip == destination.address else {
                    return rejectWith(sandbox.policy.reject(.addressMismatch(destination.address), for: final),
                                      reason: nil, context: context)
                }
                conclude(final, decision: nameDecision, context: context)
            case .name(let name):
                guard nameDecision.verdict.permits else {
                    // A rejected name is never resolved.
                    return rejectWith(nameDecision, target: final, context: context)
                }
                if gate.answeredAddresses(for: name, sandboxID: sandbox.sandboxID).contains(destination.address) {
                    return conclude(final, decision: nameDecision, context: context)
                }
                verifyByLookup(name, final: final, decision: nameDecision, context: context)
            }
        }
    }

    /// A fresh lookup of a claimed name: the dialled address must be among its answers.
    private func verifyByLookup(_ name: DomainName, final: Target, decision: Decision, context: ChannelHandlerContext) {
        let previous = phase
        phase = .resolving
        deadline?.cancel()
        deadline = nil
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        gate.resolve(name, on: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            guard case .resolving = handler.phase, let sandbox = handler.sandbox, let destination = handler.destination else {
                return
            }
            handler.phase = handler.upstream != nil ? .connected : (previous == .dialling ? .dialling : .waiting)
            switch result {
            case .success(let addresses) where addresses.contains(destination.address):
                handler.conclude(final, decision: decision, context: context)
            case .success:
                handler.rejectWith(sandbox.policy.reject(.addressMismatch(destination.address), for: final),
                                   reason: nil, context: context)
            case .failure(let error):
                handler.record?.apply(decision, target: final, sandbox: sandbox)
                handler.record?.failure(action: "error", rejectedBy: nil,
                                        reason: "could not check that \(name) resolves to \(destination.address): \(error)",
                                        status: nil)
                handler.finishRejected(context: context)
            }
        }
    }

    /// The first bytes are judged: `decision` on `final` stands.
    private func conclude(_ final: Target, decision: Decision?, context: ChannelHandlerContext) {
        guard let decision, let sandbox, let record else { return }
        judged = true
        deadline?.cancel()
        deadline = nil
        let previous = target
        target = final
        self.decision = decision
        record.apply(decision, target: final, sandbox: sandbox)
        guard decision.verdict.permits else { return rejectWith(decision, reason: nil, context: context) }
        if final != previous, let old = record.live {
            // Policy changes must re-check the target the bytes named, not the attributed one.
            gate.untrack(old)
            let live = LiveConnection(sandboxID: old.sandboxID, target: final, address: old.address, isTunnel: true,
                                      decidedUnder: sandbox.policy.version,
                                      close: old.closeHandler)
            record.live = live
            gate.track(live)
        }
        switch phase {
        case .connected:
            release(context: context)
        case .waiting:
            dial(context: context)
        case .dialling, .resolving, .done, .following:
            return
        }
    }

    // MARK: upstream

    private func dial(context: ChannelHandlerContext) {
        guard let destination else { return }
        phase = .dialling
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        gate.connect(to: destination.address, port: destination.port, on: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            handler.dialled(result, context: context)
        }
    }

    private func dialled(_ result: Result<any Channel, any Error>, context: ChannelHandlerContext) {
        guard let record, let sandbox, let target, let destination else { return }
        switch result {
        case .failure(let error):
            guard context.channel.isActive, !isDone else { return }
            let dialError = error as? DialError ?? DialError(timedOut: false, message: "\(error)")
            record.failure(action: "error", rejectedBy: nil, reason: "upstream connect failed: \(dialError.message)",
                           status: nil)
            finishRejected(context: context)
        case .success(let upstream):
            guard context.channel.isActive, !isDone else {
                upstream.close(promise: nil)
                return
            }
            do {
                try Tunnel.install(client: context.channel, upstream: upstream, record: record, sandbox: sandbox,
                                   target: target, address: destination.address, gate: gate, checkFirstBytes: false)
            } catch {
                upstream.close(promise: nil)
                record.failure(action: "error", rejectedBy: nil, reason: "could not set up the tunnel: \(error)", status: nil)
                return finishRejected(context: context)
            }
            self.upstream = upstream
            if case .resolving = phase { return }
            phase = .connected
            if judged { release(context: context) }
        }
    }

    private var isDone: Bool {
        if case .done = phase { return true }
        return false
    }

    /// Hands the held bytes to the tunnel's glue; leaves the pipeline unless the connection
    /// is plain HTTP, whose later requests stay watched.
    private func release(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        if case .visible = target?.request {
            phase = .following
            var framer = HTTPRequestFramer(maxHeadBytes: peek.maxHeldBytes)
            // The first head was decided already; the framer learns its body length.
            if let held {
                self.held = nil
                let events = framer.feed(held.readableBytesView)
                self.framer = framer
                guard check(Array(events.dropFirst()), context: context) else { return }
                context.fireChannelRead(wrapInboundOut(held))
                context.fireChannelReadComplete()
            } else {
                self.framer = framer
            }
            return
        }
        phase = .done
        released = true
        if let held {
            self.held = nil
            context.fireChannelRead(wrapInboundOut(held))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: later requests (plain HTTP)

    /// Feeds passing bytes to the framer; false when a request in them was rejected (the
    /// connection is then closing and the bytes must not pass).
    private func follow(_ bytes: ByteBuffer, context: ChannelHandlerContext) -> Bool {
        guard var framer else { return true }
        let events = framer.feed(bytes.readableBytesView)
        self.framer = framer
        return check(events, context: context)
    }

    private func check(_ events: [HTTPRequestFramer.Event], context: ChannelHandlerContext) -> Bool {
        guard let sandbox, let destination, let first = target, let record else { return true }
        for event in events {
            let rejection: (Decision, Target)
            switch event {
            case .malformed(let message):
                record.event.reason += "; closed: a later request could not be followed (\(message))"
                closeFollowing(context: context)
                return false
            case .head(let head):
                let target = Target(host: first.host, port: destination.port, transport: .tcp, request: .visible(head.line))
                if head.hostCount > 1 {
                    rejection = (sandbox.policy.reject(.hostMismatch(other: head.host ?? ""), for: target), target)
                } else if let host = head.host, (try? Authority.parse(Substring(host)))?.host != first.host {
                    rejection = (sandbox.policy.reject(.hostMismatch(other: host), for: target), target)
                } else {
                    let decision = decide(target, sandbox: sandbox, address: destination.address)
                    if decision.verdict.permits { continue }
                    rejection = (decision, target)
                }
            }
            // The rejected request gets its own line; the connection's line says why it closed.
            let (decision, target) = rejection
            let line = AuditEvent(decision: decision, target: target, time: gate.now(), tenantID: sandbox.tenantID,
                                  sandboxID: sandbox.sandboxID, client: record.event.client,
                                  via: AuditVocabulary.viaTransparent, address: destination.address.description)
            gate.record(line)
            record.event.reason += "; closed because a later request was rejected: \(decision.reason)"
            closeFollowing(context: context)
            return false
        }
        return true
    }

    private func closeFollowing(context: ChannelHandlerContext) {
        phase = .done
        released = false
        framer = nil
        context.close(promise: nil)
    }

    // MARK: rejection

    private func rejectWith(_ decision: Decision?, target: Target? = nil, reason: String? = nil,
                            context: ChannelHandlerContext) {
        guard let record, let decision, let sandbox, let target = target ?? self.target else {
            return finishRejected(context: context)
        }
        record.apply(decision, target: target, sandbox: sandbox)
        if let reason { record.event.reason += " (\(reason))" }
        finishRejected(context: context)
    }

    private func rejectMalformed(_ message: String, context: ChannelHandlerContext) {
        guard let record else { return finishRejected(context: context) }
        record.failure(action: "reject", rejectedBy: ProxyVocabulary.tunnelMalformed,
                       reason: message + " (\(Escape.escaped(target?.host.description ?? "?")))", status: nil)
        record.event.wouldReject = false
        finishRejected(context: context)
    }

    /// Writes the audit event first, then closes the connection (and the upstream, if any).
    private func finishRejected(context: ChannelHandlerContext) {
        phase = .done
        released = false
        judged = true
        deadline?.cancel()
        deadline = nil
        held = nil
        record?.finish()
        upstream?.close(promise: nil)
        context.close(promise: nil)
    }
}

/// The runtime's entry to the transparent handler (the handler itself stays internal).
public enum TransparentProxy {
    /// Adds the transparent handler to an accepted channel; `destination` is what the
    /// runtime read from the socket (nil: none, the connection is rejected).
    public static func install(on channel: any Channel, gate: any EgressGate, destination: OriginalDestination?) throws {
        try TransparentHandler.install(on: channel, gate: gate, destination: destination)
    }
}
