import NIOCore
import Testing
@testable import PortcullisWire

/// The one first-bytes classifier: TLS records by their header, HTTP by what a lenient
/// server would accept, everything else opaque.
@Suite("First bytes of a tunnel")
struct FirstBytesTests {
    func classify(_ bytes: [UInt8]) -> FirstBytes { FirstBytesClassifier.classify(ByteBuffer(bytes: bytes)) }
    func classify(_ text: String) -> FirstBytes { classify(Array(text.utf8)) }

    @Test func aRealClientHelloIsAClientHelloWithItsSNI() {
        #expect(classify(Fixture.bytes("clienthello-sni-tls.test.bin")) == .clientHello(sni: "tls.test"))
        #expect(classify(Fixture.bytes("clienthello-no-sni.bin")) == .clientHello(sni: nil))
    }

    @Test func everyPrefixOfAClientHelloNeedsMoreBytes() {
        let hello = Fixture.bytes("clienthello-sni-tls.test.bin")
        for n in [0, 1, 2, 5, 10, hello.count / 2, hello.count - 1] {
            #expect(classify(Array(hello.prefix(n))) == .needMoreBytes, "prefix of \(n) bytes")
        }
    }

    @Test("a TLS record of another type ahead of the ClientHello is refused", arguments: [UInt8(20), 21, 23, 24])
    func otherRecordTypesAreRefused(type: UInt8) {
        let hello = Fixture.bytes("clienthello-sni-tls.test.bin")
        let record: [UInt8] = [type, 3, 3, 0, 2, 1, 0]
        guard case .refused(let why) = classify(record + hello) else {
            Issue.record("a record of type \(type) followed by a ClientHello was not refused")
            return
        }
        #expect(why.contains("type \(type)"))
    }

    @Test func anSSLv2HelloIsRefused() {
        // SSLv2 CLIENT-HELLO (the compatibility form some old clients send): no SNI possible.
        let v2: [UInt8] = [0x80, 0x2E, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10] + Array(repeating: 0x41, count: 37)
        guard case .refused(let why) = classify(v2) else {
            Issue.record("an SSLv2 hello was not refused")
            return
        }
        #expect(why.contains("SSLv2"))
    }

    @Test func aHandshakeRecordThatIsNotAClientHelloIsRefused() {
        #expect(classify([22, 3, 1, 0, 4, 2, 0, 0, 0]) == .refused("a malformed TLS ClientHello"))
    }

    @Test("HTTP is recognised the way a lenient server would", arguments: [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "get / HTTP/1.1\r\nHost: a\r\n\r\n",
        "\r\n\r\nGET / HTTP/1.1\r\n",
        "POST /x HTTP/1.0\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "FOO / HTTP/1.1\r\n",
        "x http/1.1\n",
        "GET /\r\n",
        "DeLeTe /admin HTTP/1.1\n",
    ])
    func httpIsHTTP(text: String) {
        #expect(classify(text) == .http, "\(text.debugDescription)")
    }

    @Test("other protocols are opaque", arguments: [
        "SSH-2.0-OpenSSH_9.2p1 Debian\r\n",
        "EHLO client.example\r\n",
        "*1\r\n$4\r\nPING\r\n",
        "\u{0}\u{0}\u{0}\u{8}\u{4}\u{d2}\u{16}\u{2f}",
    ])
    func otherProtocolsAreOpaque(text: String) {
        #expect(classify(text) == .opaque, "\(text.debugDescription)")
    }

    @Test func aLineThatMayStillBecomeAMethodWaits() {
        #expect(classify("GE") == .needMoreBytes)
        #expect(classify("PO") == .needMoreBytes)
        #expect(classify("SOMETHING ") == .needMoreBytes)  // a text line without its end yet
        #expect(classify("") == .needMoreBytes)
    }

    @Test func tlsPortsIncludeHTTPSAndImplicitTLS() {
        #expect(TLSPorts.contains(443) && TLSPorts.contains(993) && TLSPorts.contains(8443))
        #expect(!TLSPorts.contains(80) && !TLSPorts.contains(22))
    }
}
