import NIOCore
import Testing
@testable import PortcullisWire

@Suite struct ClientHelloPeekerTests {
    @Test func aRealClientHelloYieldsItsServerName() {
        #expect(ClientHelloPeeker.peek(Fixture.buffer("clienthello-sni-tls.test.bin")) == .clientHello(sni: "tls.test"))
        #expect(ClientHelloPeeker.peek(Fixture.buffer("clienthello-tls12-sni-example.com.bin"))
            == .clientHello(sni: "example.com"))
    }

    @Test func aClientHelloWithoutServerNameSaysSo() {
        #expect(ClientHelloPeeker.peek(Fixture.buffer("clienthello-no-sni.bin")) == .clientHello(sni: nil))
    }

    @Test func everyStrictPrefixNeedsMoreBytesAndNothingIsConsumed() {
        let bytes = Fixture.bytes("clienthello-sni-tls.test.bin")
        for n in 0..<bytes.count {
            let buffer = ByteBuffer(bytes: bytes[0..<n])
            let result = ClientHelloPeeker.peek(buffer)
            #expect(result == .needMoreBytes, "prefix of \(n) bytes gave \(result)")
            #expect(buffer.readableBytes == n)
        }
    }

    @Test func aHelloSplitOverSeveralRecordsIsReassembled() {
        let bytes = Fixture.bytes("clienthello-sni-tls.test.bin")
        let handshake = Array(bytes[5...])
        var buffer = ByteBuffer()
        var i = 0
        while i < handshake.count {
            let chunk = handshake[i..<min(i + 50, handshake.count)]
            buffer.writeBytes([22, 3, 1, UInt8(chunk.count >> 8), UInt8(chunk.count & 0xFF)])
            buffer.writeBytes(chunk)
            i += 50
        }
        #expect(ClientHelloPeeker.peek(buffer) == .clientHello(sni: "tls.test"))
    }

    @Test func plainTextIsNotTLS() {
        #expect(ClientHelloPeeker.peek(ByteBuffer(string: "GET / HTTP/1.1\r\n")) == .notTLS)
        #expect(ClientHelloPeeker.peek(ByteBuffer(string: "SSH-2.0-OpenSSH_9.2\r\n")) == .notTLS)
    }

    @Test func aHandshakeRecordThatIsNotAClientHelloIsMalformed() {
        // ServerHello (type 2) where a ClientHello belongs.
        let buffer = ByteBuffer(bytes: [22, 3, 3, 0, 4, 2, 0, 0, 0])
        #expect(ClientHelloPeeker.peek(buffer) == .malformed)
        // Wrong record version.
        #expect(ClientHelloPeeker.peek(ByteBuffer(bytes: [22, 9, 1, 0, 4, 1, 0, 0, 0])) == .malformed)
    }

    @Test func anOversizedHelloIsMalformedNotBuffered() {
        // Declares a 1 MiB handshake message.
        let buffer = ByteBuffer(bytes: [22, 3, 1, 0, 4, 1, 0x10, 0, 0])
        #expect(ClientHelloPeeker.peek(buffer) == .malformed)
    }

    @Test func mutatedHellosNeverCrashAndNeverReadOutOfBounds() {
        let original = Fixture.bytes("clienthello-sni-tls.test.bin")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                bytes[Int.random(in: 5..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            let cut = Int.random(in: 0...bytes.count, using: &rng)
            _ = ClientHelloPeeker.peek(ByteBuffer(bytes: bytes[0..<cut]))
        }
    }

    @Test func aServerNameWithControlCharactersIsMalformed() {
        var bytes = Fixture.bytes("clienthello-sni-tls.test.bin")
        // Replace "tls.test"'s first letter with a NUL.
        let needle = Array("tls.test".utf8)
        let at = (0..<(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle }!
        bytes[at] = 0
        #expect(ClientHelloPeeker.peek(ByteBuffer(bytes: bytes)) == .malformed)
    }
}
