import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// The connection state machine of a tunnel — HTTP CONNECT, SOCKS5 and the transparent
/// listener alike — as a plain value that turns events (started, resolved, dialled, client
/// bytes, deadline, client closed its side, policy changed) into actions (resolve, dial,
/// answer "established", relay exactly these bytes, switch to HTTP inspection, refuse,
/// arm a deadline). `TunnelHandler` performs the I/O; each ingress keeps only its wire
/// replies (`TunnelHandler.Ingress`). Every switch names every state (STYLE.md §2).
///
/// The order, for one tunnel:
/// 1. the target is decided, resolved and dialled (`Egress`); a transparent connection's
///    target is what its destination address is attributed to, and when that is rejected
///    nothing is dialled until the first bytes name something allowed;
/// 2. the client's first bytes are held (bounded, a deadline from the first byte) and
///    classified once (`FirstBytesClassifier`):
///    - a TLS ClientHello: its SNI must equal a name target (`sni-missing`,
///      `sni-mismatch`); an IP target is decided on the IP, the SNI only recorded;
///    - HTTP: the tunnel becomes an HTTP stream in which every request is parsed, checked
///      and re-framed (`inspectHTTP`), never relayed raw;
///    - another protocol: relayed, except to a name on a TLS port (`TLSPorts`), where the
///      first record must be a ClientHello;
///    - a TLS record that is not a ClientHello, an SSLv2 hello: refused;
/// 3. then the bytes are relayed both ways until either side closes, a policy change
///    rejects the tunnel, or it idles out.
struct TunnelMachine {
    enum Kind: Hashable {
        case connect
        case socks5
        /// A redirected connection: `destination` is where it was going.
        case transparent(destination: OriginalDestination)
    }

    /// What a refused tunnel can still be told on its wire.
    enum Reply: Hashable {
        /// A decision rejected it (403 / SOCKS 0x02).
        case rejected(Decision)
        /// Lookup or connect failed (502 or 504 / SOCKS 0x04, 0x05, 0x06).
        case failed(EgressFailure)
        /// Refused by the data plane itself (`credential-misuse`): 403 / SOCKS 0x02.
        case refused(rejectedBy: String, reason: String)
    }

    enum Action: Hashable {
        case resolve(DomainName)
        case dial(IPAddress, port: UInt16)
        /// Connected: answer success (CONNECT 200, SOCKS 0x00) and let the upstream read.
        case established(IPAddress)
        /// Checked: send the held bytes (exactly those received, nil when none) upstream and
        /// relay from now on.
        case relay(ByteBuffer?)
        /// Plain HTTP: the connection becomes an HTTP stream to `origin` (which every request
        /// must name), fed with the held bytes. `keepTunnelRecord`: whether the tunnel itself
        /// keeps an audit line beside its requests' (CONNECT and SOCKS5 asked for a tunnel; a
        /// transparent connection's requests are all there is).
        case inspectHTTP(ByteBuffer, origin: Target, decision: Decision, keepTunnelRecord: Bool)
        /// TLS to a host that must be inspected (INSPECTION.md): the gateway terminates it
        /// for `origin` (the SNI's host), fed with the held ClientHello, and every request
        /// inside is decided on its own. `keepTunnelRecord` as for `inspectHTTP`.
        case terminate(ByteBuffer, origin: Target, decision: Decision, keepTunnelRecord: Bool)
        /// Refused: reply (when the wire still allows one), then close. The record is final.
        case refuse(Reply?)
        /// (Re)arm the one deadline, from now.
        case armDeadline(TimeAmount)
        /// Nothing to do until the next event.
        case wait
    }

    private enum State {
        /// Deciding, resolving and dialling the target.
        case connecting(Egress)
        /// Transparent only: the attributed target is rejected; waiting for first bytes that
        /// name an allowed one (bounded from accept).
        case waitingForClaim
        /// Transparent only: resolving a claimed name to check it resolves to the destination.
        case verifying(Target, Decision)
        /// Transparent only: the first bytes' claim is allowed; dialling the destination.
        case dialling
        /// Connected; waiting for (or holding) the client's first bytes.
        case established
        /// Checked: bytes flow both ways.
        case relaying
        /// Handed over to HTTP inspection.
        case inspecting
        case closed
    }

    let kind: Kind
    let sandbox: SandboxContext
    let settings: ProxySettings
    let listeners: GatewayListeners
    private(set) var record: AuditRecord
    private var state: State
    /// The target decided so far (a transparent connection's may change once, with its first bytes).
    private(set) var target: Target
    private(set) var decision: Decision?
    /// The address dialled (or being dialled).
    private(set) var address: IPAddress?
    private var held: ByteBuffer?
    /// The first bytes have been judged: the target is final.
    private var judged = false
    /// The judged bytes asked for HTTP inspection (released once connected).
    private var wantsHTTP = false
    private var deadlineArmed = false
    /// Whether the success reply went out (a refusal after it can only close).
    private(set) var answered = false
    /// Transparent: whether the destination was dialled, and whether that dial connected.
    private var dialStarted = false
    private var connected = false
    /// The client closed its side (its bytes, if any, are all held).
    private var clientClosed = false
    /// The name the DNS gateway handed out for the destination, or the DNS answers lookup.
    let answeredAddresses: (DomainName) -> Set<IPAddress>

    /// `canTerminate`: the gateway has TLS (a provider and the sandbox's CA); without it a
    /// host that must be inspected is decided as an opaque tunnel, or refused at its hello.
    init(kind: Kind, target: Target, sandbox: SandboxContext, record: AuditRecord, settings: ProxySettings,
         listeners: GatewayListeners, canTerminate: Bool = false,
         answeredAddresses: @escaping (DomainName) -> Set<IPAddress> = { _ in [] }) {
        self.kind = kind
        self.target = target
        self.sandbox = sandbox
        self.settings = settings
        self.listeners = listeners
        self.canTerminate = canTerminate
        self.answeredAddresses = answeredAddresses
        self.record = record
        self.record.identify(sandbox)
        self.record.ask(target)
        // A host whose requests must be seen is decided on the host here; each request is
        // decided on its own once the connection is opened.
        var decided = target
        if canTerminate, sandbox.inspectionNeed(target) != nil { decided.request = .notApplicable }
        self.state = .connecting(Egress(target: decided, policy: sandbox.policy, listeners: listeners))
    }

    let canTerminate: Bool
    /// The judged ClientHello goes to a host that must be inspected.
    private var wantsTermination = false

    var isRelaying: Bool {
        if case .relaying = state { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    // MARK: - Deciding and dialling

    mutating func start() -> Action {
        // A placeholder is never a host name (INSPECTION.md: "a CONNECT or SNI" carrying one
        // is a misuse).
        if !Placeholders.find(in: target.host.description).isEmpty {
            let why = "a credential placeholder as the host to connect to"
            record.refuse(.reject, AuditVocabulary.credentialMisuse, reason: why)
            return close(.refused(rejectedBy: AuditVocabulary.credentialMisuse, reason: why))
        }
        switch kind {
        case .connect, .socks5:
            guard case .connecting(var egress) = state else { preconditionFailure("started twice") }
            let action = egress.start()
            state = .connecting(egress)
            return egressAction(action)
        case .transparent(let destination):
            address = destination.address
            record.address = destination.address.description
            let decision = decideOnDestination(target)
            self.decision = decision
            record.decide(decision, on: target)
            guard decision.verdict.permits else {
                // Only the first bytes can still name an allowed target; bounded from accept.
                state = .waitingForClaim
                deadlineArmed = true
                return .armDeadline(settings.firstBytesTimeout)
            }
            state = .dialling
            dialStarted = true
            return .dial(destination.address, port: destination.port)
        }
    }

    mutating func resolved(_ result: Result<[IPAddress], ResolveError>) -> Action {
        switch state {
        case .connecting(var egress):
            let action = egress.resolved(result)
            state = .connecting(egress)
            return egressAction(action)
        case .verifying(let final, let decision):
            guard case .transparent(let destination) = kind else { preconditionFailure("verifying a non-transparent tunnel") }
            switch result {
            case .success(let addresses) where addresses.contains(destination.address):
                return conclude(final, decision)
            case .success:
                return reject(sandbox.policy.reject(.addressMismatch(destination.address), for: final), on: final)
            case .failure(let error):
                record.decide(decision, on: final)
                record.fail("could not check that \(final.host) resolves to \(destination.address): \(error.message)")
                return close(nil)
            }
        case .waitingForClaim, .dialling, .established, .relaying, .inspecting, .closed:
            return .wait
        }
    }

    mutating func dialled(_ result: Result<Void, DialError>) -> Action {
        switch state {
        case .connecting(var egress):
            let action = egress.dialled(result)
            state = .connecting(egress)
            return egressAction(action)
        case .dialling, .verifying:
            // Transparent: the destination itself (a claim may still be being checked).
            switch result {
            case .success:
                connected = true
                if case .verifying = state { return .wait }
                return becomeEstablished()
            case .failure(let error):
                record.fail(EgressFailure.dial(error).description)
                return close(nil)
            }
        case .waitingForClaim, .established, .relaying, .inspecting, .closed:
            return .wait
        }
    }

    private mutating func egressAction(_ action: Egress.Action) -> Action {
        switch action {
        case .resolve(let name):
            return .resolve(name)
        case .dial(let address, let port):
            self.address = address
            record.address = address.description
            return .dial(address, port: port)
        case .connected(let address, let decision):
            self.address = address
            self.decision = decision
            record.decide(decision, on: target)
            record.address = address.description
            return becomeEstablished()
        case .refused(let decision):
            self.decision = decision
            record.decide(decision, on: target)
            return close(.rejected(decision))
        case .failed(let failure, let decision, let address):
            self.decision = decision
            record.decide(decision, on: target)
            record.address = address?.description
            record.fail(failure.description)
            return close(.failed(failure))
        }
    }

    private mutating func becomeEstablished() -> Action {
        state = .established
        connected = true
        answered = true
        if case .transparent = kind, judged || (clientClosed && held == nil) { return release() }
        if let address { return .established(address) }
        return .wait
    }

    /// Called once the handler has answered "established": any bytes judged meanwhile go on.
    mutating func afterEstablished() -> Action {
        guard case .established = state else { return .wait }
        if judged { return release() }
        if let held, held.readableBytes > 0 { return judge() }
        if clientClosed { return release() }  // closed without a byte: the half-close travels
        return .wait
    }

    // MARK: - First bytes

    /// Bytes from the client before the tunnel relays (after that they never come here).
    mutating func clientBytes(_ bytes: ByteBuffer) -> Action {
        switch state {
        case .relaying, .inspecting, .closed:
            return .wait
        case .connecting, .waitingForClaim, .verifying, .dialling, .established:
            break
        }
        guard bytes.readableBytes > 0 else { return .wait }  // an empty read never arms the deadline
        var bytes = bytes
        if held == nil { held = bytes } else { held!.writeBuffer(&bytes) }
        // Whatever the phase (dialling, judged but waiting for the dial or a lookup), the
        // bytes held before the tunnel relays are bounded.
        if let held, held.readableBytes > settings.maxHeldBytes {
            return refuseFirstBytes("more than \(settings.maxHeldBytes) bytes arrived before the tunnel could relay them")
        }
        if judged { return .wait }
        switch state {
        case .connecting:
            // CONNECT and SOCKS5 judge once connected (the reply comes first); held meanwhile.
            return armIfNeeded()
        case .waitingForClaim, .dialling, .established:
            return judge()
        case .verifying, .relaying, .inspecting, .closed:
            return .wait
        }
    }

    private mutating func armIfNeeded() -> Action {
        guard !deadlineArmed else { return .wait }
        deadlineArmed = true
        return .armDeadline(settings.firstBytesTimeout)
    }

    private mutating func judge() -> Action {
        guard let held else { return .wait }
        let classified = FirstBytesClassifier.classify(held)
        if case .needMoreBytes = classified {
            if held.readableBytes > settings.maxHeldBytes {
                return refuseFirstBytes("the first message is larger than \(settings.maxHeldBytes) bytes")
            }
            return armIfNeeded()
        }
        switch kind {
        case .connect, .socks5:
            return judgeFixed(classified, held)
        case .transparent(let destination):
            return judgeTransparent(classified, held, destination)
        }
    }

    /// CONNECT and SOCKS5: the target was asked for; the bytes must agree with it.
    private mutating func judgeFixed(_ classified: FirstBytes, _ held: ByteBuffer) -> Action {
        switch classified {
        case .needMoreBytes:
            return .wait
        case .refused(let why):
            return refuseFirstBytes(why)
        case .clientHello(let sni):
            record.sni = sni
            if let misuse = placeholderInSNI(sni) { return misuse }
            if let inconsistency = Self.sniInconsistency(sni, for: target.host) {
                return reject(sandbox.policy.reject(inconsistency, for: target), on: target)
            }
            if let refusal = terminationCheck(target) { return refusal }
        case .http, .opaque:
            if case .name(let name) = target.host, let port = target.port, TLSPorts.contains(port) {
                return refuseFirstBytes("\(name) port \(port) is a TLS port, and the first bytes are not a TLS ClientHello")
            }
            if case .http = classified {
                wantsHTTP = true
            } else if let refusal = opaqueCheck(target) {
                return refusal
            }
        }
        judged = true
        return release()
    }

    /// Transparent: the bytes may name the destination (SNI, Host); that claim must agree
    /// with the address dialled, and is then what is decided.
    private mutating func judgeTransparent(_ classified: FirstBytes, _ held: ByteBuffer,
                                           _ destination: OriginalDestination) -> Action {
        var claim: TargetHost?
        var request = RequestVisibility.opaque
        switch classified {
        case .needMoreBytes:
            return .wait
        case .refused(let why):
            return refuseFirstBytes(why)
        case .clientHello(let sni):
            record.sni = sni
            if let misuse = placeholderInSNI(sni) { return misuse }
            if let sni {
                guard let host = try? HostParser.parseTarget(sni) else {
                    return reject(sandbox.policy.reject(.sniMismatch(sni: sni), for: target), on: target)
                }
                claim = host
            } else if case .name = target.host {
                return reject(sandbox.policy.reject(.sniMissing, for: target), on: target)
            }
        case .http:
            if TLSPorts.contains(destination.port) {
                return refuseFirstBytes("port \(destination.port) is a TLS port, and the first bytes are not a TLS ClientHello")
            }
            switch HTTPHeadPeek.hostClaim(held, maxBytes: settings.maxHeldBytes) {
            case .needMoreBytes:
                return armIfNeeded()
            case .malformed(let why):
                return refuseFirstBytes(why)
            case .severalHosts:
                return reject(sandbox.policy.reject(.hostMismatch(other: "several Host headers"), for: target), on: target)
            case .host(let text, let line):
                request = .visible(line)
                if let text {
                    guard let authority = try? Authority.parse(Substring(text)) else {
                        return reject(sandbox.policy.reject(.hostMismatch(other: text), for: target), on: target)
                    }
                    claim = authority.host
                }
            }
            wantsHTTP = true
        case .opaque:
            if case .name(let name) = target.host, TLSPorts.contains(destination.port) {
                return refuseFirstBytes("\(name) port \(destination.port) is a TLS port, and the first bytes are not a TLS ClientHello")
            }
            if let refusal = opaqueCheck(target) { return refusal }
        }
        let final = Target(host: claim ?? target.host, port: destination.port, transport: .tcp, request: request)
        // Plain HTTP: the connection is decided on its host (every request, the first
        // included, is then decided on its own method and path by the HTTP stream); the
        // record keeps the first request's method and path in case the host is refused.
        var decided = final
        if case .clientHello = classified, let refusal = terminationCheck(final) { return refusal }
        if wantsHTTP || wantsTermination { decided.request = .notApplicable }
        let decision = decideOnDestination(decided)
        guard let claim, claim != target.host else { return conclude(final, decision) }
        switch claim {
        case .address(let ip):
            guard ip == destination.address else {
                return reject(sandbox.policy.reject(.addressMismatch(destination.address), for: final), on: final)
            }
            return conclude(final, decision)
        case .name(let name):
            // A rejected name is never resolved.
            guard decision.verdict.permits else { return reject(decision, on: final) }
            if answeredAddresses(name).contains(destination.address) { return conclude(final, decision) }
            state = .verifying(final, decision)
            return .resolve(name)
        }
    }

    /// The first bytes are judged (transparent): `decision` on `final` stands.
    private mutating func conclude(_ final: Target, _ decision: Decision) -> Action {
        judged = true
        target = final
        self.decision = decision
        record.decide(decision, on: final)
        guard decision.verdict.permits else { return close(nil) }
        guard case .transparent(let destination) = kind else { return release() }
        if connected {
            state = .established
            return release()
        }
        state = .dialling
        if dialStarted { return .wait }  // released when the dial completes
        dialStarted = true
        return .dial(destination.address, port: destination.port)
    }

    /// The held bytes go on: relayed, or to HTTP inspection.
    private mutating func release() -> Action {
        let bytes = held
        held = nil
        let keep: Bool
        if case .transparent = kind { keep = false } else { keep = true }
        if wantsTermination, let decision {
            state = .inspecting
            return .terminate(bytes ?? ByteBuffer(), origin: target, decision: decision, keepTunnelRecord: keep)
        }
        if wantsHTTP, let decision {
            state = .inspecting
            return .inspectHTTP(bytes ?? ByteBuffer(), origin: target, decision: decision, keepTunnelRecord: keep)
        }
        state = .relaying
        return .relay(bytes)
    }

    // MARK: - Deadlines, half-close, policy changes

    /// The one deadline fired.
    mutating func deadlineFired() -> Action {
        switch state {
        case .waitingForClaim:
            if held == nil, let decision {
                return rejectNoted(decision, "no client bytes named another destination within the deadline")
            }
            return refuseFirstBytes("the first bytes did not complete in time")
        case .connecting, .dialling, .established:
            guard held != nil, !judged else { return .wait }
            return refuseFirstBytes("the first bytes did not complete in time")
        case .verifying, .relaying, .inspecting, .closed:
            return .wait
        }
    }

    /// The client closed its side. nil: nothing to do now (the half-close travels on once
    /// the tunnel relays); a refusal when it closed in the middle of its first message.
    mutating func clientInputClosed() -> Action? {
        clientClosed = true
        let incomplete = held.map { !judged && FirstBytesClassifier.classify($0) == .needMoreBytes } ?? false
        switch state {
        case .relaying, .inspecting, .closed:
            return nil
        case .waitingForClaim:
            if held == nil, let decision { return rejectNoted(decision, "the client closed without sending anything") }
            return incomplete ? refuseFirstBytes("the client closed before its first message was complete") : nil
        case .connecting, .verifying, .dialling:
            // Complete bytes are judged once connected; the half-close follows them.
            return incomplete ? refuseFirstBytes("the client closed before its first message was complete") : nil
        case .established:
            if incomplete { return refuseFirstBytes("the client closed before its first message was complete") }
            // Nothing was sent: nothing to check; the half-close travels (server-first protocols end).
            return held == nil && !judged ? release() : nil
        }
    }

    /// A policy change rejects this tunnel now.
    mutating func policyChanged(_ now: Decision) -> Action {
        if case .closed = state { return .wait }
        record.closeCause = .policyChanged(now)
        state = .closed
        return .refuse(nil)
    }

    /// The connection is gone (either side); the record is final.
    mutating func closed() {
        state = .closed
    }

    /// A failure after the decision (the handler could not carry it out).
    mutating func fail(_ reason: String) { record.fail(reason) }

    mutating func countUp(_ n: Int) { record.bytesUp += Int64(n) }
    mutating func countDown(_ n: Int) { record.bytesDown += Int64(n) }
    mutating func setStatus(_ status: Int) { record.status = status }

    // MARK: - Helpers

    /// Name stage, then the address stage (and the listener guard) on the destination.
    private func decideOnDestination(_ target: Target) -> Decision {
        guard case .transparent(let destination) = kind else { return sandbox.policy.decide(target) }
        let decision = sandbox.policy.check(sandbox.policy.decide(target), dialling: destination.address, for: target)
        if decision.verdict.permits, listeners.covers(destination.address, port: destination.port) {
            return sandbox.policy.reject(.gatewayListener(destination.address, port: destination.port), for: target)
        }
        return decision
    }

    private mutating func placeholderInSNI(_ sni: String?) -> Action? {
        guard let sni, !Placeholders.find(in: sni).isEmpty else { return nil }
        record.refuse(.reject, AuditVocabulary.credentialMisuse, reason: "a credential placeholder in the TLS server name")
        return close(nil)
    }

    /// A ClientHello to `target`: whether it is to be terminated (sets `wantsTermination`),
    /// or refused because it must be and cannot be (no TLS here, no name to present).
    private mutating func terminationCheck(_ target: Target) -> Action? {
        guard let need = sandbox.inspectionNeed(target) else { return nil }
        guard canTerminate else {
            return refuseFirstBytes("\(target.host) must be inspected (\(Self.describe(need))), and this gateway terminates no TLS")
        }
        wantsTermination = true
        return nil
    }

    /// Opaque bytes to a host that must be inspected: refused, never passed through.
    private mutating func opaqueCheck(_ target: Target) -> Action? {
        guard let need = sandbox.inspectionNeed(target) else { return nil }
        switch need {
        case .endpointRule:
            var opaque = target
            opaque.request = .opaque
            return reject(sandbox.policy.decide(opaque), on: opaque)
        case .inspectRule, .credential:
            return refuseFirstBytes("\(target.host) must be inspected (\(Self.describe(need))), and the first bytes are not TLS")
        }
    }

    static func describe(_ need: InspectionNeed) -> String {
        switch need {
        case .endpointRule(let r): return "rule \(r.id) allows only some methods or paths"
        case .inspectRule(let r): return "rule \(r.id) says inspect: true"
        case .credential(let name): return "credential \(name) is bound to it"
        }
    }

    static func sniInconsistency(_ sni: String?, for host: TargetHost) -> Inconsistency? {
        guard case .name(let expected) = host else { return nil }  // an IP target is decided on the IP
        guard let sni else { return .sniMissing }
        if let parsed = try? HostParser.parseTarget(sni), parsed == .name(expected) { return nil }
        return .sniMismatch(sni: sni)
    }

    private mutating func reject(_ decision: Decision, on target: Target) -> Action {
        self.decision = decision
        record.decide(decision, on: target)
        return close(answered ? nil : .rejected(decision))
    }

    private mutating func rejectNoted(_ decision: Decision, _ note: String) -> Action {
        record.decide(decision, on: target)
        record.note = note
        return close(nil)
    }

    private mutating func refuseFirstBytes(_ why: String) -> Action {
        record.refuse(.reject, AuditVocabulary.tunnelFirstBytes, reason: why + " (\(Escape.escaped(target.host.description)))")
        return close(nil)
    }

    private mutating func close(_ reply: Reply?) -> Action {
        state = .closed
        held = nil
        if case .transparent = kind { return .refuse(nil) }  // nothing is ever written back
        return .refuse(answered ? nil : reply)
    }
}
