/// What a client asked to reach (POLICY-MODEL.md, "Deciding one connection").
public struct Target: Hashable, Sendable {
    public var host: TargetHost
    /// nil for a DNS question, where the port is not known yet.
    public var port: UInt16?
    /// nil where the protocol is not known (a DNS question).
    public var transport: TransportProtocol?
    /// Whether the HTTP method and path are visible (plain HTTP), hidden (an opaque tunnel),
    /// or beside the point (a DNS question).
    public var request: RequestVisibility

    public init(host: TargetHost, port: UInt16?, transport: TransportProtocol? = .tcp, request: RequestVisibility = .opaque) {
        self.host = host
        self.port = port
        self.transport = transport
        self.request = request
    }

    /// A DNS question for `name`: port and protocol ignored.
    public static func dnsQuestion(_ name: DomainName) -> Target {
        Target(host: .name(name), port: nil, transport: nil, request: .notApplicable)
    }
}

/// What the gateway can see of a request, for rules with `methods`/`paths`.
public enum RequestVisibility: Hashable, Sendable {
    /// Plain HTTP (or HTTPS the gateway terminates): method and path are known.
    case visible(RequestLine)
    /// A tunnel whose contents the gateway does not see.
    case opaque
    /// A DNS question: there is no request yet, so endpoint restrictions do not apply.
    case notApplicable
}
