import NIOSSL
import PortcullisPolicy

extension SandboxTLS {
    /// The one-line reason for a failed upstream TLS handshake (INSPECTION.md: 502 and an
    /// `error` audit entry with reason `upstream certificate: …`), or nil when `error` is
    /// not about TLS. The proxy sees the upstream channel's error without knowing NIOSSL;
    /// this is where its types are read.
    public static func upstreamFailureReason(_ error: any Error, host: String) -> String? {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "upstream certificate: not valid for \(host)"
        }
        guard let ssl = error as? NIOSSLError else { return nil }
        switch ssl {
        case .handshakeFailed(let inner):
            if "\(inner)".contains("CERTIFICATE_VERIFY_FAILED") {
                return "upstream certificate: not trusted (verification against the system roots and --upstream-ca failed)"
            }
            return "upstream TLS handshake failed"
        case .uncleanShutdown:
            return "upstream TLS handshake failed: the upstream closed the connection"
        default:
            return "upstream TLS failed: \(ssl)"
        }
    }
}

extension SandboxTLS {
    public func upstreamFailureReason(_ error: any Error, host: TargetHost) -> String {
        Self.upstreamFailureReason(error, host: host.description) ?? "upstream TLS handshake failed: \(error)"
    }
}
