/// What a client asked to reach (POLICY-MODEL.md, "Deciding one connection").
public struct Target: Hashable, Sendable {
    public var host: TargetHost
    /// nil for a DNS question, where the port is not known yet.
    public var port: UInt16?
    /// nil where the protocol is not known (a DNS question).
    public var transport: TransportProtocol?
    /// The HTTP method and path where the gateway can see them; nil for an opaque tunnel.
    public var request: RequestLine?

    public init(host: TargetHost, port: UInt16?, transport: TransportProtocol? = .tcp, request: RequestLine? = nil) {
        self.host = host
        self.port = port
        self.transport = transport
        self.request = request
    }

    /// A DNS question for `name`: port and protocol ignored.
    public static func dnsQuestion(_ name: DomainName) -> Target {
        Target(host: .name(name), port: nil, transport: nil, request: nil)
    }
}
