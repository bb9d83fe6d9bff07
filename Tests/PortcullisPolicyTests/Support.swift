@testable import PortcullisPolicy
import Testing

/// Builds a validated rule the way the API would, failing the test on bad input.
func rule(_ action: String, _ host: String, id: String? = nil, port: Int? = nil, transport: String? = nil,
          methods: [String]? = nil, paths: [String]? = nil, warnOnly: Bool? = nil, except: [String]? = nil,
          source: RuleSource = .local, sourceLocation: SourceLocation = #_sourceLocation) -> Rule {
    let draft = RuleDraft(action: action, host: host, port: port, transport: transport, methods: methods,
                          paths: paths, warnOnly: warnOnly, except: except)
    do {
        return try draft.validate(id: id ?? "rul_\(action)_\(host)\(port.map { ":\($0)" } ?? "")", source: source)
    } catch {
        Issue.record("rule \(action) \(host) refused: \(error)", sourceLocation: sourceLocation)
        return Rule(id: "invalid", action: .deny, host: .exact(DomainName(canonical: "invalid.test")))
    }
}

func allow(_ host: String, id: String? = nil, port: Int? = nil, methods: [String]? = nil, paths: [String]? = nil,
           warnOnly: Bool? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> Rule {
    rule("allow", host, id: id, port: port, methods: methods, paths: paths, warnOnly: warnOnly, sourceLocation: sourceLocation)
}

func deny(_ host: String, id: String? = nil, port: Int? = nil, except: [String]? = nil,
          sourceLocation: SourceLocation = #_sourceLocation) -> Rule {
    rule("deny", host, id: id, port: port, except: except, sourceLocation: sourceLocation)
}

/// A TCP target, as a proxy sees it (opaque unless a method is given).
func target(_ host: String, port: UInt16 = 443, method: String? = nil, path: String? = nil,
            sourceLocation: SourceLocation = #_sourceLocation) -> Target {
    let parsed: TargetHost
    do { parsed = try HostParser.parseTarget(host) } catch {
        Issue.record("target \(host) refused: \(error)", sourceLocation: sourceLocation)
        parsed = .name(DomainName(canonical: "invalid.test"))
    }
    let visibility: RequestVisibility = method.map { .visible(RequestLine(method: $0, path: path ?? "/")) } ?? .opaque
    return Target(host: parsed, port: port, transport: .tcp, request: visibility)
}

func ip(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> IPAddress {
    guard let a = HostParser.parseAddress(text) else {
        Issue.record("\(text) is not an address", sourceLocation: sourceLocation)
        return .v4(IPv4Address(0))
    }
    return a
}

func policy(_ mode: Mode, _ rules: [Rule], guard addressGuard: AddressGuard = AddressGuard()) -> CompiledPolicy {
    CompiledPolicy(mode: mode, rules: rules, version: 7, addressGuard: addressGuard)
}

/// Decides with both the compiled policy and the reference evaluator, and checks they agree.
func decide(_ mode: Mode, _ rules: [Rule], _ t: Target, resolved: [String] = [],
            sourceLocation: SourceLocation = #_sourceLocation) -> Decision {
    let compiled = policy(mode, rules)
    let reference = ReferenceEvaluator(mode: mode, rules: rules, version: 7)
    let addresses = resolved.map { ip($0) }
    let c = addresses.isEmpty ? compiled.decide(t) : compiled.evaluate(t, resolved: addresses).decision
    let r = addresses.isEmpty ? reference.decide(t) : reference.evaluate(t, resolved: addresses).decision
    #expect(c == r, "compiled and reference disagree", sourceLocation: sourceLocation)
    return c
}
