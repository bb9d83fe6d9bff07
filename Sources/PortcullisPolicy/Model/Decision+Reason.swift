extension Decision {
    /// One human sentence saying what was decided and why.
    public var reason: String {
        let host = Escape.escaped(self.host.description)
        let sentence: String
        switch basis {
        case .allowRule(let r):
            let kind = r.warnOnly ? "allowed and flagged by warn-only rule" : "allowed by rule"
            sentence = "\(host) is \(kind) \(r.id) (\(r.source) allow \(r.host)\(Decision.portText(r)))"
        case .denyRule(let r):
            sentence = "\(host) is denied by rule \(r.id) (\(r.source) deny \(r.host)\(Decision.portText(r)))"
        case .denyAddressRule(let r, let address):
            sentence = "\(host) resolves to \(address), which rule \(r.id) (\(r.source) deny \(r.host)) denies"
        case .noRuleMatched:
            switch mode {
            case .allowlist:
                sentence = "\(host) matches no allow rule; allowlist mode rejects it and adds it to the pending queue"
            case .audit, .denylist, .unrestricted, .isolated:
                sentence = "\(host) matches no rule"
            }
        case .unrestricted:
            sentence = "unrestricted mode allows \(host); rules are kept but not applied"
        case .isolated:
            sentence = "isolated mode rejects all egress, \(host) included"
        case .endpointNotAllowed(let r):
            sentence = "\(host) is allowed by rule \(r.id) only for \(Decision.endpointText(r)); this request is outside it"
        case .endpointOpaque(let r):
            sentence = "\(host) is allowed by rule \(r.id) only for \(Decision.endpointText(r)), which cannot be checked in an opaque tunnel"
        case .guarded(_, let address) where address == GatewayHost.loopback && GatewayHost.contains(self.host):
            sentence = "\(host) is the gateway's host, reached on \(address), which the address guard opens only on a port "
                + "that an allow rule for localhost or host.portcullis.internal names (such as localhost:11434)"
        case .guarded(let range, let address):
            sentence = "\(address) is in \(range.network) (\(range.label)), which the address guard blocks unless an allow IP/CIDR rule covers it"
        case .inconsistent(let i):
            switch i {
            case .sniMismatch(let sni):
                sentence = "the TLS server name \(Escape.quoted(sni)) differs from the requested host \(host) (domain fronting)"
            case .sniMissing:
                sentence = "the TLS ClientHello to \(host) carries no server name (SNI) to check against it (domain fronting)"
            case .hostMismatch(let other):
                sentence = "the Host header \(Escape.quoted(other)) differs from the requested host \(host)"
            case .authorityMismatch(let other):
                sentence = "the request names \(Escape.quoted(other)), and this TLS connection was opened for \(host)"
            case .addressMismatch(let address):
                sentence = "\(address) is not an address that \(host) resolves to"
            case .gatewayListener(let address, let port):
                sentence = "\(host) is \(address) port \(port), one of the gateway's own listeners, which is never reachable through it"
            }
        }
        if wouldReject && verdict != .reject {
            return "audit mode: " + sentence + "; allowlist mode would reject it"
        }
        return sentence
    }

    static func portText(_ r: Rule) -> String {
        var text = r.port.map { " port \($0)" } ?? ""
        if r.transport != .any { text += " \(r.transport)" }
        return text
    }

    static func endpointText(_ r: Rule) -> String {
        let methods = r.methods?.joined(separator: ",") ?? "any method"
        let paths = r.paths?.map(\.description).joined(separator: ",") ?? "any path"
        return "\(methods) \(paths)"
    }
}
