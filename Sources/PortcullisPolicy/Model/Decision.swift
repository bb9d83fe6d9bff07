/// The answer to "may this sandbox reach this target, and why (not)?" — a value, never an
/// error. Every decision names what decided it (`ruleID` / `rejectedBy`), the stage, a
/// human sentence (`reason`), and the policy version it was made under.
public struct Decision: Hashable, Sendable {
    /// What decided.
    public enum Basis: Hashable, Sendable {
        /// An allow rule covered the target (verdict allow, or warn for warn_only).
        case allowRule(Rule)
        /// A deny rule covered the target.
        case denyRule(Rule)
        /// A deny IP/CIDR rule covered the address a name resolved to.
        case denyAddressRule(Rule, IPAddress)
        /// No rule covered the target; the mode's "no rule matches" column applied.
        case noRuleMatched
        /// Unrestricted mode: rules are kept, not applied.
        case unrestricted
        /// Isolated mode rejects everything.
        case isolated
        /// The most specific allow rule restricts methods/paths and this request is outside them.
        case endpointNotAllowed(Rule)
        /// The most specific allow rule restricts methods/paths and the request is not visible.
        case endpointOpaque(Rule)
        /// The address guard covers the address.
        case guarded(GuardRange, IPAddress)
        /// A consistency check failed (domain fronting, Host/URI mismatch, …).
        case inconsistent(Inconsistency)
    }

    public let verdict: Verdict
    /// True in audit mode when enforcement (allowlist with the same rules) would reject.
    public let wouldReject: Bool
    public let stage: DecisionStage
    public let basis: Basis
    /// The target's host, canonical.
    public let host: TargetHost
    public let mode: Mode
    public let policyVersion: UInt64

    public init(verdict: Verdict, wouldReject: Bool = false, stage: DecisionStage, basis: Basis,
                host: TargetHost, mode: Mode, policyVersion: UInt64) {
        self.verdict = verdict
        self.wouldReject = wouldReject
        self.stage = stage
        self.basis = basis
        self.host = host
        self.mode = mode
        self.policyVersion = policyVersion
    }

    /// The rule that decided, if a rule did.
    public var rule: Rule? {
        switch basis {
        case .allowRule(let r), .denyRule(let r), .denyAddressRule(let r, _),
             .endpointNotAllowed(let r), .endpointOpaque(let r):
            return r
        case .noRuleMatched, .unrestricted, .isolated, .guarded, .inconsistent:
            return nil
        }
    }

    /// The address the address stage judged, when that stage decided (a guard range, a deny
    /// IP/CIDR rule on a resolved address, the gateway's own listener): the audit entry's
    /// `address` when nothing was dialled.
    public var judgedAddress: IPAddress? {
        switch basis {
        case .guarded(_, let address), .denyAddressRule(_, let address): return address
        case .inconsistent(.gatewayListener(let address, _)): return address
        default: return nil
        }
    }

    /// The audit log's `rule_id`: the rule that allowed (or, for a rule rejection, the rule
    /// that rejected).
    public var ruleID: String? { rule?.id }

    /// The audit log's `rejected_by`, for a rejection or a would-be rejection: a rule id,
    /// `guard:<range>`, `mode:isolated`, `default-deny`, `sni-mismatch`, ….
    public var rejectedBy: String? {
        guard verdict == .reject || wouldReject else { return nil }
        return Decision.rejectionCode(basis)
    }

    /// `rejected_by` for a basis that rejects (nil for one that allows).
    public static func rejectionCode(_ basis: Basis) -> String? {
        switch basis {
        case .denyRule(let r), .denyAddressRule(let r, _): return r.id
        case .noRuleMatched: return AuditVocabulary.defaultDeny
        case .isolated: return AuditVocabulary.modeIsolated
        case .endpointNotAllowed: return AuditVocabulary.endpointNotAllowed
        case .endpointOpaque: return AuditVocabulary.endpointOpaque
        case .guarded(let range, _): return range.code
        case .inconsistent(let i): return i.code
        case .allowRule, .unrestricted: return nil
        }
    }

    /// Whether this rejection puts `(host, port)` in the pending queue: only rejections in
    /// allowlist mode because no rule matched (not deny rules, not the guard).
    public var joinsPending: Bool {
        verdict == .reject && mode == .allowlist && basis == .noRuleMatched
    }
}

/// A failed consistency check (POLICY-MODEL.md, "Consistency checks").
public enum Inconsistency: Hashable, Sendable {
    /// The TLS SNI names another host than the CONNECT (or transparent) target.
    case sniMismatch(sni: String)
    /// A TLS ClientHello to a name target carries no SNI: one check with `sniMismatch`
    /// (POLICY-MODEL.md names one code for both), its own sentence.
    case sniMissing
    /// The Host header names another host than the request line or CONNECT target.
    case hostMismatch(other: String)
    /// On a terminated TLS connection, `Host` or `:authority` names another host than the
    /// SNI (one terminated connection never carries requests for two hosts).
    case authorityMismatch(other: String)
    /// In transparent mode, the dialled address is not one the name resolves to.
    case addressMismatch(IPAddress)
    /// The address and port are one of the gateway's own listeners (its API, proxy, SOCKS5,
    /// DNS or transparent listener): never reachable through the gateway, whatever the
    /// rules and guard exemptions say.
    case gatewayListener(IPAddress, port: UInt16)

    public var code: String {
        switch self {
        case .sniMismatch: return AuditVocabulary.sniMismatch
        case .sniMissing: return AuditVocabulary.sniMismatch
        case .hostMismatch: return AuditVocabulary.hostMismatch
        case .authorityMismatch: return AuditVocabulary.authorityMismatch
        case .addressMismatch: return AuditVocabulary.addressMismatch
        case .gatewayListener: return AuditVocabulary.gatewayListener
        }
    }
}
