import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire

/// The first bytes of a tunnel: held, classified once, checked against the target (or, on
/// the transparent listener, taken as a claim to verify), then released to the relay, to
/// HTTP inspection or to TLS termination.
extension TunnelMachine {
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

    mutating func armIfNeeded() -> Action {
        guard !deadlineArmed else { return .wait }
        deadlineArmed = true
        return .armDeadline(settings.firstBytesTimeout)
    }

    mutating func judge() -> Action {
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
    mutating func judgeFixed(_ classified: FirstBytes, _ held: ByteBuffer) -> Action {
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
    mutating func judgeTransparent(_ classified: FirstBytes, _ held: ByteBuffer,
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
    mutating func conclude(_ final: Target, _ decision: Decision) -> Action {
        judged = true
        target = final
        self.decision = decision
        record.decide(decision, on: final)
        guard decision.verdict.permits else { return close(nil) }
        guard case .transparent(let destination) = kind else { return release() }
        let to = dialAddress(final, destination)
        if dialStarted, to != address {
            // Dialled for the attributed target; the claim would go elsewhere (the gateway's
            // host is its loopback): the two do not name one destination.
            return reject(sandbox.policy.reject(.addressMismatch(destination.address), for: final), on: final)
        }
        address = to
        record.address = to.description
        if connected {
            state = .established
            return release()
        }
        state = .dialling
        if dialStarted { return .wait }  // released when the dial completes
        dialStarted = true
        return .dial(to, port: destination.port)
    }

    /// The held bytes go on: relayed, or to HTTP inspection.
    mutating func release() -> Action {
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

    // MARK: - Helpers

    /// Name stage, then the address stage (and the listener guard) on the address the
    /// destination is dialled as.
    func decideOnDestination(_ target: Target) -> Decision {
        guard case .transparent(let destination) = kind else { return sandbox.policy.decide(target) }
        let to = dialAddress(target, destination)
        let decision = sandbox.policy.check(sandbox.policy.decide(target), dialling: to, for: target)
        if decision.verdict.permits, listeners.covers(to, port: destination.port) {
            return sandbox.policy.reject(.gatewayListener(to, port: destination.port), for: target)
        }
        return decision
    }

    /// Transparent: the address a connection to `destination` is checked and dialled as,
    /// for `target`. The destination itself, except for the gateway's host: an address the
    /// DNS gateway handed this sandbox for `host.portcullis.internal` (the host end of its
    /// link) is dialled as the host's loopback, where the guard opens only the ports that
    /// allow rules name.
    func dialAddress(_ target: Target, _ destination: OriginalDestination) -> IPAddress {
        if target.host == .name(GatewayHost.internalName),
           answeredAddresses(GatewayHost.internalName).contains(destination.address) {
            return GatewayHost.loopback
        }
        return destination.address
    }

    mutating func placeholderInSNI(_ sni: String?) -> Action? {
        guard let sni, !Placeholders.find(in: sni).isEmpty else { return nil }
        record.refuse(.reject, AuditVocabulary.credentialMisuse, reason: "a credential placeholder in the TLS server name")
        return close(nil)
    }

    /// A ClientHello to `target`: whether it is to be terminated (sets `wantsTermination`),
    /// or refused because it must be and cannot be (no TLS here, no name to present).
    mutating func terminationCheck(_ target: Target) -> Action? {
        guard let need = sandbox.inspectionNeed(target) else { return nil }
        guard canTerminate else {
            return refuseFirstBytes("\(target.host) must be inspected (\(need)), and this gateway terminates no TLS")
        }
        wantsTermination = true
        return nil
    }

    /// Opaque bytes to a host that must be inspected: refused, never passed through.
    mutating func opaqueCheck(_ target: Target) -> Action? {
        guard let need = sandbox.inspectionNeed(target) else { return nil }
        switch need {
        case .endpointRule:
            var opaque = target
            opaque.request = .opaque
            return reject(sandbox.policy.decide(opaque), on: opaque)
        case .inspectRule, .credential:
            return refuseFirstBytes("\(target.host) must be inspected (\(need)), and the first bytes are not TLS")
        }
    }

    static func sniInconsistency(_ sni: String?, for host: TargetHost) -> Inconsistency? {
        guard case .name(let expected) = host else { return nil }  // an IP target is decided on the IP
        guard let sni else { return .sniMissing }
        if let parsed = try? HostParser.parseTarget(sni), parsed == .name(expected) { return nil }
        return .sniMismatch(sni: sni)
    }
}
