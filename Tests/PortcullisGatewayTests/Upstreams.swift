import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import X509

/// A tiny upstream: answers every request with `upstream NAME METHOD URI` and one line per
/// request header (`> name: value`), so tests can see what the gateway forwarded.
final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let name: String
    init(name: String) { self.name = name }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else {
            if case .end = unwrapInboundIn(data) {} else { return }
            return
        }
        var body = "upstream \(name) \(head.method.rawValue) \(head.uri)\n"
        for (n, v) in head.headers { body += "> \(n.lowercased()): \(v)\n" }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Keep-Alive", value: "timeout=5")
        headers.add(name: "X-Upstream", value: name)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        let close = !head.isKeepAlive
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in if close { channel.close(promise: nil) } }
    }
}

struct TestCertificate {
    let certificate: NIOSSLCertificate
    let key: NIOSSLPrivateKey
    let pem: String

    /// A self-signed certificate for `names`, minted now with swift-certificates.
    static func make(names: [String]) throws -> TestCertificate {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(names[0]) }
        let now = Date()
        let cert = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3600),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                SubjectAlternativeNames(names.map { .dnsName($0) })
            },
            issuerPrivateKey: .init(key))
        let pem = try cert.serializeAsPEM().pemString
        return TestCertificate(certificate: try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem),
                               key: try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem), pem: pem)
    }
}

/// Upstream servers on 127.0.0.1: plain HTTP and HTTPS.
final class Upstreams: Sendable {
    let group: MultiThreadedEventLoopGroup
    let plain: any Channel
    let tls: any Channel
    let certificatePEM: String

    var plainPort: Int { plain.localAddress!.port! }
    var tlsPort: Int { tls.localAddress!.port! }

    init() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        plain = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(name: "plain"))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let cert = try TestCertificate.make(names: ["tls.test", "other.test"])
        certificatePEM = cert.pem
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: [.certificate(cert.certificate)], privateKey: .privateKey(cert.key)))
        tls = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(name: "tls"))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func shutdown() async {
        try? await plain.close()
        try? await tls.close()
        try? await group.shutdownGracefully()
    }
}
