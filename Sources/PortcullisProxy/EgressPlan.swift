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
enum EgressPlan {
    static func run(target: Target, sandbox: SandboxContext, gate: any EgressGate,
                    on eventLoop: any EventLoop) -> EventLoopFuture<EgressOutcome> {
        let start = NIODeadline.now()
        let nameDecision = sandbox.policy.decide(target)
        gate.observeDecision(nanoseconds: (NIODeadline.now() - start).nanoseconds)
        guard nameDecision.verdict.permits, let port = target.port else {
            return eventLoop.makeSucceededFuture(.rejected(nameDecision))
        }
        switch target.host {
        case .address(let address):
            return dial([address], port: port, decisions: [nameDecision], gate: gate, on: eventLoop)
        case .name(let name):
            return gate.resolve(name, on: eventLoop).flatMap { resolved -> EventLoopFuture<EgressOutcome> in
                guard !resolved.isEmpty else {
                    return eventLoop.makeSucceededFuture(
                        .resolveFailed(ResolveError(timedOut: false, message: "\(name) has no address"), nameDecision))
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
                guard !permitted.isEmpty else { return eventLoop.makeSucceededFuture(.rejected(firstRejection!)) }
                return dial(permitted, port: port, decisions: decisions, gate: gate, on: eventLoop)
            }.flatMapErrorThrowing { error in
                let resolveError = error as? ResolveError ?? ResolveError(timedOut: false, message: "\(error)")
                return .resolveFailed(resolveError, nameDecision)
            }
        }
    }

    static func dial(_ addresses: [IPAddress], port: UInt16, decisions: [Decision], gate: any EgressGate,
                     on eventLoop: any EventLoop, index: Int = 0, lastError: DialError? = nil) -> EventLoopFuture<EgressOutcome> {
        guard index < addresses.count else {
            return eventLoop.makeSucceededFuture(.dialFailed(lastError ?? DialError(timedOut: false, message: "no address"),
                                                             decisions[0], addresses.last))
        }
        let address = addresses[index]
        return gate.connect(to: address, port: port, on: eventLoop).map { channel -> EgressOutcome in
            .connected(channel, address, decisions[index])
        }.flatMapError { error in
            let dialError = error as? DialError ?? DialError(timedOut: false, message: "\(error)")
            return dial(addresses, port: port, decisions: decisions, gate: gate, on: eventLoop, index: index + 1,
                        lastError: dialError)
        }
    }
}
