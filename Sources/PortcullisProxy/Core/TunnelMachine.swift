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
///    - a TLS ClientHello: its SNI must equal a name target (`sni-mismatch`, also
///      when it has none); an IP target is decided on the IP, the SNI only recorded;
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

    enum State {
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
    var record: AuditRecord
    var state: State
    /// The target decided so far (a transparent connection's may change once, with its first bytes).
    var target: Target
    var decision: Decision?
    /// The address dialled (or being dialled).
    var address: IPAddress?
    var held: ByteBuffer?
    /// The first bytes have been judged: the target is final.
    var judged = false
    /// The judged bytes asked for HTTP inspection (released once connected).
    var wantsHTTP = false
    var deadlineArmed = false
    /// Whether the success reply went out (a refusal after it can only close).
    var answered = false
    /// Transparent: whether the destination was dialled, and whether that dial connected.
    var dialStarted = false
    var connected = false
    /// The client closed its side (its bytes, if any, are all held).
    var clientClosed = false
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
    var wantsTermination = false

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
            let to = dialAddress(target, destination)
            address = to
            record.address = to.description
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
            return .dial(to, port: destination.port)
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

    mutating func egressAction(_ action: Egress.Action) -> Action {
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

    mutating func becomeEstablished() -> Action {
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
}
