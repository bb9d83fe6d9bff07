import NIOCore
import PortcullisPolicy

extension DNSHeader {
    /// The header of a message if at least 12 bytes are there; counts included.
    public static func peek(_ buffer: ByteBuffer) -> DNSHeader? {
        let i = buffer.readerIndex
        guard buffer.readableBytes >= DNSHeader.size,
              let id = buffer.getInteger(at: i, as: UInt16.self),
              let flags = buffer.getInteger(at: i + 2, as: UInt16.self),
              let qd = buffer.getInteger(at: i + 4, as: UInt16.self),
              let an = buffer.getInteger(at: i + 6, as: UInt16.self),
              let ns = buffer.getInteger(at: i + 8, as: UInt16.self),
              let ar = buffer.getInteger(at: i + 10, as: UInt16.self)
        else { return nil }
        var header = DNSHeader(id: id, flags: flags)
        header.questionCount = qd
        header.answerCount = an
        header.authorityCount = ns
        header.additionalCount = ar
        return header
    }
}

extension DNSMessage {
    /// Most compression pointers one name may follow. Pointers must also point strictly
    /// backwards, so loops are impossible; this bounds the work of a chain of pointers.
    static let maxPointersPerName = 32

    /// Parses a whole message (the buffer's readable bytes). Every length is checked against
    /// what is there; nothing is trusted, nothing traps.
    public init(parsing buffer: ByteBuffer) throws(DNSParseError) {
        guard buffer.readableBytes <= 65535 else { throw DNSParseError(.messageTooLong, at: 0) }
        var reader = DNSReader(bytes: Array(buffer.readableBytesView))
        self = try reader.readMessage()
    }
}

/// A cursor over one message. Absolute offsets, so compression pointers can be followed.
struct DNSReader {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func u8() throws(DNSParseError) -> UInt8 {
        guard position < bytes.count else { throw DNSParseError(.truncated, at: position) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() throws(DNSParseError) -> UInt16 {
        guard position + 2 <= bytes.count else { throw DNSParseError(.truncated, at: position) }
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func u32() throws(DNSParseError) -> UInt32 {
        let hi = try u16()
        let lo = try u16()
        return UInt32(hi) << 16 | UInt32(lo)
    }

    mutating func take(_ n: Int) throws(DNSParseError) -> ArraySlice<UInt8> {
        guard n >= 0, position + n <= bytes.count else { throw DNSParseError(.truncated, at: position) }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    /// RFC 1035 §4.1.4: a name is a sequence of labels ending in a zero byte or a pointer
    /// (two bytes, top bits 11) to an earlier occurrence. Pointers must point strictly before
    /// the pointer itself (no loops, no forward references), at most `maxPointersPerName`
    /// per name; the expanded name must stay within 255 bytes.
    mutating func name(limit: Int? = nil) throws(DNSParseError) -> DNSName {
        let end = limit ?? bytes.count
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var cursor = position
        var resume: Int?
        var pointers = 0
        while true {
            guard cursor < end else { throw DNSParseError(.truncated, at: cursor) }
            let length = bytes[cursor]
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    out.append(0)
                    guard out.count <= DNSName.maxWireLength else { throw DNSParseError(.nameTooLong, at: position) }
                    position = resume ?? (cursor + 1)
                    return DNSName(uncheckedWire: out)
                }
                let n = Int(length)
                guard cursor + 1 + n <= end else { throw DNSParseError(.truncated, at: cursor) }
                guard out.count + 1 + n + 1 <= DNSName.maxWireLength else { throw DNSParseError(.nameTooLong, at: position) }
                out.append(length)
                out += bytes[(cursor + 1)..<(cursor + 1 + n)]
                cursor += 1 + n
            case 0xC0:
                guard cursor + 2 <= end else { throw DNSParseError(.truncated, at: cursor) }
                let target = Int(length & 0x3F) << 8 | Int(bytes[cursor + 1])
                guard target < cursor else { throw DNSParseError(.badPointer, at: cursor) }
                pointers += 1
                guard pointers <= DNSMessage.maxPointersPerName else { throw DNSParseError(.tooManyPointers, at: position) }
                if resume == nil { resume = cursor + 2 }
                cursor = target
            default:
                // 0x40 and 0x80: lengths 64–191, i.e. a label over 63 or an obsolete/unknown type.
                throw DNSParseError(.labelType, at: cursor)
            }
        }
    }

    mutating func question() throws(DNSParseError) -> DNSQuestion {
        let owner = try name()
        let type = DNSRecordType(try u16())
        let cls = DNSClass(try u16())
        return DNSQuestion(name: owner, type: type, recordClass: cls)
    }

    /// One record, or the OPT pseudo-record (returned separately).
    mutating func record() throws(DNSParseError) -> (DNSResourceRecord?, DNSEDNS?) {
        let start = position
        let owner = try name()
        let type = DNSRecordType(try u16())
        let cls = try u16()
        let ttl = try u32()
        let lengthAt = position
        let length = Int(try u16())
        guard position + length <= bytes.count else { throw DNSParseError(.badRecordLength, at: lengthAt) }
        let rdataEnd = position + length
        if type == .opt {
            guard owner.wire == [0] else { throw DNSParseError(.misplacedOPT, at: start) }
            let options = Array(try take(length))
            let edns = DNSEDNS(udpPayloadSize: cls, extendedResponseCode: UInt8(ttl >> 24), version: UInt8((ttl >> 16) & 0xFF),
                               dnssecOK: ttl & 0x8000 != 0, options: options)
            return (nil, edns)
        }
        let data: DNSRecordData
        switch type {
        case .a:
            guard length == 4 else { throw DNSParseError(.badRecordLength, at: lengthAt) }
            data = .a(IPv4Address(try u32()))
        case .aaaa:
            guard length == 16 else { throw DNSParseError(.badRecordLength, at: lengthAt) }
            var value: UInt128 = 0
            for byte in try take(16) { value = value << 8 | UInt128(byte) }
            data = .aaaa(IPv6Address(value))
        case .cname:
            data = .cname(try name(limit: rdataEnd))
        case .ns, .ptr, DNSRecordType(3), DNSRecordType(4), DNSRecordType(7), DNSRecordType(8), DNSRecordType(9):
            data = .opaque(try name(limit: rdataEnd).wire)
        case .mx:
            var out = Array(try take(2))
            out += try name(limit: rdataEnd).wire
            data = .opaque(out)
        case .soa:
            var out = try name(limit: rdataEnd).wire
            out += try name(limit: rdataEnd).wire
            out += try take(20)
            data = .opaque(out)
        default:
            data = .opaque(Array(try take(length)))
        }
        guard position == rdataEnd else { throw DNSParseError(.badRecordLength, at: lengthAt) }
        return (DNSResourceRecord(name: owner, type: type, recordClass: DNSClass(cls), ttl: ttl, data: data), nil)
    }

    mutating func readMessage() throws(DNSParseError) -> DNSMessage {
        let id = try u16()
        let flags = try u16()
        var header = DNSHeader(id: id, flags: flags)
        header.questionCount = try u16()
        header.answerCount = try u16()
        header.authorityCount = try u16()
        header.additionalCount = try u16()
        var message = DNSMessage(header: header)
        // Counts are bounded by the data: every entry needs bytes, and a short message throws.
        for _ in 0..<header.questionCount { message.questions.append(try question()) }
        for section in 0..<3 {
            let count = section == 0 ? header.answerCount : (section == 1 ? header.authorityCount : header.additionalCount)
            for _ in 0..<count {
                let at = position
                let (record, edns) = try record()
                if let edns {
                    guard section == 2 else { throw DNSParseError(.misplacedOPT, at: at) }
                    guard message.edns == nil else { throw DNSParseError(.duplicateOPT, at: at) }
                    message.edns = edns
                } else if let record {
                    switch section {
                    case 0: message.answers.append(record)
                    case 1: message.authorities.append(record)
                    default: message.additionals.append(record)
                    }
                }
            }
        }
        guard position == bytes.count else { throw DNSParseError(.trailingBytes, at: position) }
        return message
    }
}
