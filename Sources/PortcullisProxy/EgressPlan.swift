import NIOCore
import PortcullisPolicy

/// The outcome of deciding and dialling one target.
enum EgressOutcome {
    /// Connected to `address` (one the policy permits); `decision` is for that address.
    case connected(any Channel, IPAddress, Decision)
    /// The policy rejects the target (name stage, or every resolved address).
    case rejected(Decision)
    /// The name could not be resolved (an `error`, never an allow).
    case resolveFailed(ResolveError, Decision)
    /// Every permitted address failed to connect.
    case dialFailed(DialError, Decision, IPAddress?)
}

/// Name first, then address, then dial exactly what was checked (STYLE.md §5):
/// 1. the name stage decides on the target as written; a rejected name is never resolved;
/// 2. a name is resolved once, off the event loop; the address stage runs on every answer;
/// 3. only permitted addresses are dialled, in order, each with the gate's connect timeout.
///
/// One promise per plan: the resolver's and the dialler's futures are observed with
/// callbacks (no `map`/`flatMap` chain allocating a future per step).
enum EgressPlan {
    static func run(target: Target, sandbox: SandboxContext, gate: any EgressGate,
                    on eventLoop: any EventLoop) -> EventLoopFuture<EgressOutcome> {
        let start = NIODeadline.now()
        let nameDecision = sandbox.policy.decide(target)
        gate.observeDecision(nanoseconds: (NIODeadline.now() - start).nanoseconds)
        guard nameDecision.verdict.permits, let port = target.port else {
            return eventLoop.makeSucceededFuture(.rejected(nameDecision))
        }
        let promise = eventLoop.makePromise(of: EgressOutcome.self)
        switch target.host {
        case .address(let address):
            dial([address], port: port, decisions: [nameDecision], gate: gate, on: eventLoop, promise: promise)
        case .name(let name):
            gate.resolve(name, on: eventLoop).whenComplete { result in
                let resolved: [IPAddress]
                switch result {
                case .failure(let error):
                    let resolveError = error as? ResolveError ?? ResolveError(timedOut: false, message: "\(error)")
                    promise.succeed(.resolveFailed(resolveError, nameDecision))
                    return
                case .success(let addresses):
                    resolved = addresses
                }
                guard !resolved.isEmpty else {
                    promise.succeed(.resolveFailed(ResolveError(timedOut: false, message: "\(name) has no address"), nameDecision))
                    return
                }
                let t0 = NIODeadline.now()
                var permitted: [IPAddress] = []
                var decisions: [Decision] = []
                var firstRejection: Decision?
                for address in resolved {
                    let d = sandbox.policy.check(nameDecision, dialling: address, for: target)
                    if d.verdict.permits {
                        permitted.append(address)
                        decisions.append(d)
                    } else if firstRejection == nil {
                        firstRejection = d
                    }
                }
                gate.observeDecision(nanoseconds: (NIODeadline.now() - t0).nanoseconds)
                guard !permitted.isEmpty else {
                    promise.succeed(.rejected(firstRejection ?? nameDecision))
                    return
                }
                dial(permitted, port: port, decisions: decisions, gate: gate, on: eventLoop, promise: promise)
            }
        }
        return promise.futureResult
    }

    /// Dials `addresses` in order until one connects; completes `promise` either way.
    static func dial(_ addresses: [IPAddress], port: UInt16, decisions: [Decision], gate: any EgressGate,
                     on eventLoop: any EventLoop, promise: EventLoopPromise<EgressOutcome>, index: Int = 0,
                     lastError: DialError? = nil) {
        guard index < addresses.count else {
            promise.succeed(.dialFailed(lastError ?? DialError(timedOut: false, message: "no address"), decisions[0],
                                        addresses.last))
            return
        }
        let address = addresses[index]
        gate.connect(to: address, port: port, on: eventLoop).whenComplete { result in
            switch result {
            case .success(let channel):
                promise.succeed(.connected(channel, address, decisions[index]))
            case .failure(let error):
                let dialError = error as? DialError ?? DialError(timedOut: false, message: "\(error)")
                dial(addresses, port: port, decisions: decisions, gate: gate, on: eventLoop, promise: promise,
                     index: index + 1, lastError: dialError)
            }
        }
    }

    /// Dials `addresses` in order until one connects (kept for callers that want a future).
    static func dial(_ addresses: [IPAddress], port: UInt16, decisions: [Decision], gate: any EgressGate,
                     on eventLoop: any EventLoop) -> EventLoopFuture<EgressOutcome> {
        let promise = eventLoop.makePromise(of: EgressOutcome.self)
        dial(addresses, port: port, decisions: decisions, gate: gate, on: eventLoop, promise: promise)
        return promise.futureResult
    }
}
