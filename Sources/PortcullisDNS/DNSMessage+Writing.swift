import NIOCore
import PortcullisPolicy

extension DNSMessage {
    /// Writes the message, at most `maxSize` bytes (512 for classic UDP, the client's EDNS
    /// size, 65535 over TCP). When the records do not fit, the message is cut at a record
    /// boundary: answer or authority records that do not fit set TC (RFC 2181 §9); dropped
    /// additional records do not. The OPT record is kept (RFC 6891 §7) and its room reserved.
    /// Names are compressed against earlier names (RFC 1035 §4.1.4).
    public func write(maxSize: Int = 65535) -> ByteBuffer {
        var writer = DNSWriter(maxSize: max(DNSHeader.size, min(maxSize, 65535)))
        return writer.write(self)
    }
}

/// Serialises one message with compression and record-boundary truncation.
struct DNSWriter {
    let maxSize: Int
    var buffer = ByteBuffer()
    /// Lowercased wire suffix → offset of its first occurrence (only offsets a pointer can hold).
    var offsets: [ArraySlice<UInt8>: Int] = [:]
    /// Suffixes added since `mark()`, removed again by `rollBack(to:)`.
    var added: [ArraySlice<UInt8>] = []

    init(maxSize: Int) {
        self.maxSize = maxSize
        buffer.reserveCapacity(min(maxSize, 1500))
    }

    mutating func write(_ message: DNSMessage) -> ByteBuffer {
        var header = message.header
        buffer.writeInteger(header.id)
        buffer.writeInteger(UInt16(0))
        buffer.writeRepeatingByte(0, count: 8)
        let reserve = message.edns?.wireSize ?? 0
        var truncated = false
        var counts: [Int] = [0, 0, 0, 0]
        for question in message.questions.prefix(Int(UInt16.max)) {
            let mark = self.mark()
            writeName(question.name)
            buffer.writeInteger(question.type.rawValue)
            buffer.writeInteger(question.recordClass.rawValue)
            if buffer.writerIndex + reserve > maxSize {
                rollBack(to: mark)
                truncated = true
                break
            }
            counts[0] += 1
        }
        let sections = [message.answers, message.authorities, message.additionals]
        outer: for (n, section) in sections.enumerated() {
            if truncated { break }
            for record in section.prefix(Int(UInt16.max)) {
                let mark = self.mark()
                writeRecord(record)
                if buffer.writerIndex + reserve > maxSize {
                    rollBack(to: mark)
                    if n < 2 { truncated = true }
                    break outer
                }
                counts[n + 1] += 1
            }
        }
        if let edns = message.edns, buffer.writerIndex + edns.wireSize <= maxSize {
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(DNSRecordType.opt.rawValue)
            buffer.writeInteger(edns.udpPayloadSize)
            var ttl = UInt32(edns.extendedResponseCode) << 24 | UInt32(edns.version) << 16
            if edns.dnssecOK { ttl |= 0x8000 }
            buffer.writeInteger(ttl)
            buffer.writeInteger(UInt16(edns.options.count))
            buffer.writeBytes(edns.options)
            counts[3] += 1
        }
        if truncated { header.truncated = true }
        buffer.setInteger(header.flags, at: 2)
        buffer.setInteger(UInt16(counts[0]), at: 4)
        buffer.setInteger(UInt16(counts[1]), at: 6)
        buffer.setInteger(UInt16(counts[2]), at: 8)
        buffer.setInteger(UInt16(counts[3]), at: 10)
        return buffer
    }

    mutating func mark() -> Int {
        added.removeAll(keepingCapacity: true)
        return buffer.writerIndex
    }

    /// Undoes everything written since `mark`, compression entries included.
    mutating func rollBack(to mark: Int) {
        buffer.moveWriterIndex(to: mark)
        for suffix in added { offsets[suffix] = nil }
        added.removeAll(keepingCapacity: true)
    }

    mutating func writeName(_ name: DNSName) {
        let key = name.key
        var i = 0
        while i < key.count, key[i] != 0 {
            let suffix = key[i...]
            if let offset = offsets[suffix] {
                buffer.writeInteger(UInt16(0xC000) | UInt16(offset))
                return
            }
            let here = buffer.writerIndex
            if here < 0x3FFF {
                offsets[suffix] = here
                added.append(suffix)
            }
            let n = Int(name.wire[i])
            buffer.writeBytes(name.wire[i...(i + n)])
            i += 1 + n
        }
        buffer.writeInteger(UInt8(0))
    }

    mutating func writeRecord(_ record: DNSResourceRecord) {
        writeName(record.name)
        buffer.writeInteger(record.type.rawValue)
        buffer.writeInteger(record.recordClass.rawValue)
        buffer.writeInteger(record.ttl)
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        switch record.data {
        case .a(let a): buffer.writeInteger(a.value)
        case .aaaa(let a):
            buffer.writeInteger(UInt64(truncatingIfNeeded: a.value >> 64))
            buffer.writeInteger(UInt64(truncatingIfNeeded: a.value))
        case .cname(let target): writeName(target)
        case .opaque(let bytes): buffer.writeBytes(bytes.prefix(65535))
        }
        let length = buffer.writerIndex - lengthAt - 2
        buffer.setInteger(UInt16(clamping: length), at: lengthAt)
    }
}
