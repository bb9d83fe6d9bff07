import NIOCore
import PortcullisPolicy
import PortcullisWire

/// The consistency check on a tunnel's first client bytes (POLICY-MODEL.md, "Consistency
/// checks"), as a plain state-free function of the bytes held so far.
///
/// - A TLS ClientHello to a name target must carry an SNI equal to that name
///   (`sni-missing`, `sni-mismatch`). A tunnel to an IP literal is decided on the IP: its
///   SNI is recorded, never used to upgrade the decision.
/// - Plain HTTP must name the same Host (`host-mismatch`; several Host headers too).
/// - Anything else (SSH, a database protocol, …) is opaque and passes: the target itself
///   was already decided.
/// - A broken TLS record, or more than `maxHeldBytes` without a verdict, is refused.
struct TunnelCheck {
    enum Action: Equatable {
        case waitForMore
        case forward(sni: String?)
        case reject(Inconsistency, sni: String?)
        case malformed(String)
    }

    let host: TargetHost
    let maxHeldBytes: Int

    func evaluate(_ held: ByteBuffer) -> Action {
        switch ClientHelloPeeker.peek(held) {
        case .needMoreBytes:
            return held.readableBytes > maxHeldBytes ? .malformed("ClientHello larger than \(maxHeldBytes) bytes") : .waitForMore
        case .malformed:
            return .malformed("the first bytes are a malformed TLS ClientHello")
        case .clientHello(let sni):
            guard case .name(let expected) = host else { return .forward(sni: sni) }
            guard let sni else { return .reject(.sniMissing, sni: nil) }
            if let parsed = try? HostParser.parseTarget(sni), parsed == .name(expected) { return .forward(sni: sni) }
            return .reject(.sniMismatch(sni: sni), sni: sni)
        case .notTLS:
            switch PlainHTTPPeeker.peek(held, maxHeadBytes: maxHeldBytes) {
            case .needMoreBytes:
                return held.readableBytes > maxHeldBytes ? .malformed("HTTP head larger than \(maxHeldBytes) bytes") : .waitForMore
            case .notHTTP:
                return .forward(sni: nil)
            case .tooLarge:
                return .malformed("HTTP head larger than \(maxHeldBytes) bytes")
            case .request(let hostHeader, let count):
                guard count <= 1 else { return .reject(.hostMismatch(other: hostHeader ?? ""), sni: nil) }
                guard let hostHeader else { return .forward(sni: nil) }
                if let authority = try? Authority.parse(Substring(hostHeader)), authority.host == host {
                    return .forward(sni: nil)
                }
                return .reject(.hostMismatch(other: hostHeader), sni: nil)
            }
        }
    }
}
