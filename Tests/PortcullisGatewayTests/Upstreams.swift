import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import X509

/// What an upstream received: every request head its HTTP parser found (method, target,
/// Host), every body byte, and the raw bytes, so tests can check that exactly what was
/// decided reached it.
final class ReceivedLog: Sendable {
    struct Request: Hashable, Sendable {
        let method: String
        let uri: String
        let host: String?
        var body: String = ""
        var headers: [String] = []
    }
    private let state = Mutex<(requests: [Request], raw: [UInt8])>(([], []))
    var requests: [Request] { state.withLock { $0.requests } }
    var raw: String { state.withLock { String(decoding: $0.raw, as: UTF8.self) } }
    func add(_ r: Request) { state.withLock { $0.requests.append(r) } }
    func addBody(_ text: String) {
        state.withLock { s in
            guard !s.requests.isEmpty else { return }
            s.requests[s.requests.count - 1].body += text
        }
    }
    func addRaw(_ bytes: ByteBuffer) { state.withLock { $0.raw += Array(bytes.readableBytesView) } }
    func clear() { state.withLock { $0 = ([], []) } }
}

/// Records the raw bytes an upstream connection receives, before its HTTP parser.
final class RawRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let log: ReceivedLog
    init(log: ReceivedLog) { self.log = log }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        log.addRaw(unwrapInboundIn(data))
        context.fireChannelRead(data)
    }
}

/// A tiny upstream: answers every request with `upstream NAME METHOD URI` and one line per
/// request header (`> name: value`), so tests can see what the gateway forwarded.
final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let name: String
    let log: ReceivedLog?
    init(name: String, log: ReceivedLog? = nil) {
        self.name = name
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .body(let bytes) = part { log?.addBody(String(buffer: bytes)) }
        guard case .head(let head) = part else { return }
        log?.add(ReceivedLog.Request(method: head.method.rawValue, uri: head.uri, host: head.headers.first(name: "host"),
                                     headers: head.headers.map { "\($0.name.lowercased()): \($0.value)" }))
        var body = "upstream \(name) \(head.method.rawValue) \(head.uri)\n"
        for (n, v) in head.headers { body += "> \(n.lowercased()): \(v)\n" }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Keep-Alive", value: "timeout=5")
        headers.add(name: "X-Upstream", value: name)
        // `/…/encoded-CODING…`: the answer claims that content coding (its body stays plain).
        if let range = head.uri.range(of: "/encoded-") {
            headers.add(name: "Content-Encoding", value: String(head.uri[range.upperBound...].prefix { $0.isLetter }))
        }
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
    /// What the plain upstream received.
    let received: ReceivedLog
    /// What the HTTPS upstream received (after its TLS).
    let tlsReceived: ReceivedLog

    /// The HTTPS upstream's certificate (tls.test, other.test), the same for every test.
    static let certificate = try! TestCertificate.make(names: ["tls.test", "other.test"])
    static func certificatePEMForTests() async throws -> String { certificate.pem }

    var plainPort: Int { plain.localAddress!.port! }
    var tlsPort: Int { tls.localAddress!.port! }

    init() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let received = ReceivedLog()
        self.received = received
        let tlsReceived = ReceivedLog()
        self.tlsReceived = tlsReceived
        plain = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RawRecorder(log: received))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(name: "plain", log: received))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let cert = Upstreams.certificate
        certificatePEM = cert.pem
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: [.certificate(cert.certificate)], privateKey: .privateKey(cert.key)))
        tls = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(name: "tls", log: tlsReceived))
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
