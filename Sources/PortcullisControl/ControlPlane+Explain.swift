import PortcullisModel
import PortcullisPolicy

extension ControlPlane {
    /// `POST …/network/explain`: the decision the gateway would take now; nothing is logged.
    public func explain(_ caller: Caller, id: String, _ input: ExplainInput) throws -> ExplainView {
        _ = try sandbox(caller, id)
        guard let compiledSandbox = compiled[id] else { throw ControlError.sandboxNotFound }
        let policy = compiledSandbox.policy
        let host: TargetHost
        do { host = try HostParser.parseTarget(input.host) } catch { throw ControlError.badRequest("host: \(error.message)") }
        var port: UInt16?
        if let p = input.port {
            guard (1...65535).contains(p) else { throw ControlError.badRequest("port must be between 1 and 65535, not \(p)") }
            port = UInt16(p)
        }
        let transport: TransportProtocol
        switch input.transport ?? "tcp" {
        case "tcp": transport = .tcp
        case "udp": transport = .udp
        case let other: throw ControlError.badRequest("protocol must be tcp or udp, not \(Escape.quoted(other))")
        }
        var visibility = RequestVisibility.opaque
        if input.method != nil || input.path != nil {
            let method = input.method ?? "GET", path = input.path ?? "/"
            guard path.hasPrefix("/"), path.utf8.count <= 2048 else { throw ControlError.badRequest("path must start with / and be at most 2048 characters") }
            guard !method.isEmpty, method.utf8.count <= 32, method.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw ControlError.badRequest("method \(Escape.quoted(method)) is not an HTTP method such as GET or POST")
            }
            visibility = .visible(RequestLine(method: method, path: path))
        }
        var addresses: [IPAddress] = []
        for (i, text) in (input.resolved ?? []).enumerated() {
            guard let a = HostParser.parseAddress(text) else {
                throw ControlError.badRequest("resolved[\(i)]: \(Escape.quoted(text)) is not an IP address")
            }
            addresses.append(a)
        }
        var target = Target(host: host, port: port, transport: transport, request: visibility)
        // As the data plane does: a host whose requests must be seen is decided on the host,
        // each request on its own once the connection is opened.
        let need = Self.inspectionNeed(target, compiledSandbox)
        if need != nil, compiledSandbox.certificateAuthority != nil, case .opaque = visibility { target.request = .notApplicable }
        let decision: Decision, address: IPAddress?
        if case .address(let a) = host {
            (decision, address) = (policy.decide(target), a)
        } else if addresses.isEmpty {
            (decision, address) = (policy.decide(target), nil)
        } else {
            let selection = policy.evaluate(target, resolved: addresses)
            (decision, address) = (selection.decision, selection.permitted.first ?? selection.rejected.first?.0)
        }
        return ExplainView(decision: decision, address: address,
                           termination: Self.termination(target, decision: decision, need: need, compiledSandbox))
    }

    /// A TLS connection to `target`'s host and port (443 when no port is given).
    static func inspectionNeed(_ target: Target, _ sandbox: SandboxPolicy) -> InspectionNeed? {
        guard target.transport != .udp else { return nil }
        var tls = target
        tls.port = target.port ?? 443
        return InspectionNeed.of(tls, policy: sandbox.policy, credentials: sandbox.credentials)
    }

    /// Whether a TLS connection would be terminated, and why (INSPECTION.md, "Which
    /// connections are opened"), in the words `explain` answers with.
    static func termination(_ target: Target, decision: Decision, need: InspectionNeed?,
                            _ sandbox: SandboxPolicy) -> ExplainView.Termination {
        if target.transport == .udp { return .init(terminated: false, reason: "UDP is never terminated") }
        if case .address = target.host {
            return .init(terminated: false, reason: "an IP address is decided on the address and never terminated")
        }
        // A request refused at the endpoint stage is refused inside the terminated connection.
        if decision.verdict == .reject, !(decision.stage == .endpoint && need != nil) {
            return .init(terminated: false, reason: "the connection is refused, so nothing is opened")
        }
        guard let need else {
            return .init(terminated: false, reason: "no rule or credential needs to see inside: an opaque tunnel, "
                         + "checked by SNI, showing the host's own certificate")
        }
        guard sandbox.certificateAuthority != nil else {
            return .init(terminated: false, reason: "\(need), but the sandbox has no certificate authority: "
                         + "a TLS connection would be refused")
        }
        return .init(terminated: true, reason: "\(need)")
    }
}
