import NIOCore
@testable import PortcullisDNS
import PortcullisPolicy

func name(_ text: String) -> DNSName {
    guard let n = DNSName(text) else { fatalError("bad test name \(text)") }
    return n
}

func query(_ text: String, type: DNSRecordType = .a, id: UInt16 = 0x1234, edns: DNSEDNS? = nil) -> DNSMessage {
    DNSMessage(header: DNSHeader(id: id), questions: [DNSQuestion(name: name(text), type: type)], edns: edns)
}

func bytes(_ message: DNSMessage, maxSize: Int = 65535) -> [UInt8] {
    Array(message.write(maxSize: maxSize).readableBytesView)
}

func buffer(_ raw: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: raw) }

/// A header with the given counts, followed by `body`.
func rawMessage(id: UInt16 = 7, flags: UInt16 = 0x0100, qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0,
                body: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    for v in [id, flags, qd, an, ns, ar] { out += [UInt8(v >> 8), UInt8(v & 0xFF)] }
    return out + body
}

/// A deterministic generator for the fuzz tests (reproducible failures).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
