import NIOCore
import PortcullisPolicy

/// The runtime's TLS for connections the gateway terminates (INSPECTION.md, "Inside
/// HTTPS"): the handlers are built where NIOSSL, the sandbox CAs and the trust store live;
/// the proxy only places them in pipelines and reads the ALPN outcome from NIOTLS's
/// `TLSUserEvent.handshakeCompleted(negotiatedProtocol:)`.
public protocol TLSProvider: Sendable {
    /// A server-side TLS handler for the client leg, presenting a leaf certificate for exactly
    /// `sni` (ECDSA P-256, 24 h, subjectAltName = `sni`) issued by the sandbox's own CA, from
    /// a bounded cache; ALPN offers `alpn` in order. Throws when the sandbox has no CA.
    func serverHandler(sandboxID: String, sni: DomainName, alpn: [String]) throws -> any ChannelHandler

    /// A client-side TLS handler for the upstream leg to `host` (the SNI sent is `host`),
    /// verified against the system trust store plus every `--upstream-ca`, the host name
    /// checked; ALPN offers `alpn` in order. A failed verification surfaces as an error on
    /// the upstream channel (the proxy answers 502 `upstream certificate: …`), never a
    /// fallback to an unverified connection. The gateway closes an upstream it is done with:
    /// the handler should not wait long for the upstream's close_notify (a short
    /// `TLSConfiguration.shutdownTimeout`, e.g. 200 ms), or every closed connection lingers.
    func clientHandler(host: TargetHost, alpn: [String]) throws -> any ChannelHandler

    /// The one-line reason the client's 502 and the `error` audit entry give for a failed
    /// upstream TLS handshake: `upstream certificate: not valid for HOST`, `upstream
    /// certificate: not trusted …` (the provider knows its TLS library's errors).
    func upstreamFailureReason(_ error: any Error, host: TargetHost) -> String
}

extension TLSProvider {
    public func upstreamFailureReason(_ error: any Error, host: TargetHost) -> String {
        "upstream certificate: \(error)"
    }
}
