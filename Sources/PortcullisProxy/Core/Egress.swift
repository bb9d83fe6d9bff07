import PortcullisPolicy
import PortcullisWire

/// Why an egress attempt failed without a decision rejecting it: an `error` in the audit
/// log, never an allow (502, or 504 when it timed out).
public enum EgressFailure: Hashable, Sendable, CustomStringConvertible {
    case lookup(ResolveError)
    case dial(DialError)

    public var timedOut: Bool {
        switch self {
        case .lookup(let e): return e.timedOut
        case .dial(let e): return e.timedOut
        }
    }

    public var description: String {
        switch self {
        case .lookup(let e): return "lookup failed: \(e.message)"
        case .dial(let e): return "upstream connect failed: \(e.message)"
        }
    }
}

/// Name first, then address, then dial exactly what was checked (STYLE.md §5), as a plain
/// state machine: the caller performs each action and feeds the result back.
///
/// 1. The name stage decides on the target as written; a rejected name is never resolved.
/// 2. A name is resolved once; the address stage runs on every answer, and the gateway's
///    own listeners are refused whatever the rules say. The gateway's host (`localhost`,
///    `host.portcullis.internal`) is not resolved: its one address is the host's loopback.
/// 3. Only permitted addresses are dialled, in order, until one connects.
struct Egress {
    enum Action: Hashable {
        /// Resolve this name (off the event loop) and call `resolved`.
        case resolve(DomainName)
        /// Connect to exactly this address and call `dialled`.
        case dial(IPAddress, port: UInt16)
        /// Connected to `address`; `decision` is the one for that address.
        case connected(IPAddress, Decision)
        /// The policy (or the listener guard) rejects the target: nothing more is dialled.
        case refused(Decision)
        /// Lookup or connect failed; `decision` is the name stage's, `address` the last tried.
        case failed(EgressFailure, Decision, IPAddress?)
    }

    private enum State {
        case initial
        case resolving(Decision)
        case dialling(candidates: [(IPAddress, Decision)], index: Int)
        case finished
    }

    let target: Target
    let policy: CompiledPolicy
    let listeners: GatewayListeners
    private var state: State = .initial

    init(target: Target, policy: CompiledPolicy, listeners: GatewayListeners) {
        self.target = target
        self.policy = policy
        self.listeners = listeners
    }

    var port: UInt16 { target.port ?? 0 }

    /// The name stage.
    mutating func start() -> Action {
        guard case .initial = state else { preconditionFailure("Egress started twice") }
        let decision = policy.decide(target)
        guard decision.verdict.permits, target.port != nil else {
            state = .finished
            return .refused(decision)
        }
        switch target.host {
        case .address(let address):
            // An IP literal already went through the address stage inside `decide`.
            return candidates([(address, decision)], nameDecision: decision)
        case .name(let name) where GatewayHost.contains(name):
            // The gateway's host is its loopback, never looked up (no hosts file or resolver
            // can move it); `decide` ran the address stage there, which opens only the ports
            // its allow rules name.
            return candidates([(GatewayHost.loopback, decision)], nameDecision: decision)
        case .name(let name):
            state = .resolving(decision)
            return .resolve(name)
        }
    }

    /// The address stage on every answer.
    mutating func resolved(_ result: Result<[IPAddress], ResolveError>) -> Action {
        guard case .resolving(let nameDecision) = state else { preconditionFailure("resolved without a lookup") }
        switch result {
        case .failure(let error):
            state = .finished
            return .failed(.lookup(error), nameDecision, nil)
        case .success(let addresses) where addresses.isEmpty:
            state = .finished
            return .failed(.lookup(ResolveError(timedOut: false, message: "\(target.host) has no address")), nameDecision, nil)
        case .success(let addresses):
            return candidates(addresses.map { ($0, policy.check(nameDecision, dialling: $0, for: target)) },
                              nameDecision: nameDecision)
        }
    }

    private mutating func candidates(_ checked: [(IPAddress, Decision)], nameDecision: Decision) -> Action {
        var permitted: [(IPAddress, Decision)] = []
        var firstRejection: Decision?
        for (address, decision) in checked {
            var decision = decision
            if decision.verdict.permits, listeners.covers(address, port: port) {
                decision = policy.reject(.gatewayListener(address, port: port), for: target)
            }
            if decision.verdict.permits {
                permitted.append((address, decision))
            } else if firstRejection == nil {
                firstRejection = decision
            }
        }
        guard let first = permitted.first else {
            state = .finished
            return .refused(firstRejection ?? nameDecision)
        }
        state = .dialling(candidates: permitted, index: 0)
        return .dial(first.0, port: port)
    }

    /// The dial of the current candidate succeeded or failed.
    mutating func dialled(_ result: Result<Void, DialError>) -> Action {
        guard case .dialling(let candidates, let index) = state else { preconditionFailure("dialled without a dial") }
        switch result {
        case .success:
            state = .finished
            return .connected(candidates[index].0, candidates[index].1)
        case .failure(let error):
            let next = index + 1
            guard next < candidates.count else {
                state = .finished
                return .failed(.dial(error), candidates[index].1, candidates[index].0)
            }
            state = .dialling(candidates: candidates, index: next)
            return .dial(candidates[next].0, port: port)
        }
    }
}
