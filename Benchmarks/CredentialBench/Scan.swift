import Foundation
import NIOCore
import PortcullisPolicy
import PortcullisProxy

/// The scrubber alone (no TLS, no sockets): `mebibytes` of body in 64 KiB chunks, as the
/// proxy hands it the upstream's reads, holding the secret once per MiB. Bytes scanned per
/// second, and how many secrets were replaced.
enum Scan {
    static func run(binding: CredentialBinding, chunk mib: ByteBuffer, mebibytes: Int) -> (perSecond: Double, replaced: Int) {
        let piece = 64 * 1024
        var scrubber = SecretScrubber([binding])
        var out = 0
        let needle = Array(binding.placeholder.utf8)
        var replaced = 0
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<mebibytes {
            var offset = 0
            while offset < mib.readableBytes {
                let n = min(piece, mib.readableBytes - offset)
                let scrubbed = scrubber.scrub(mib.getSlice(at: offset, length: n)!)
                out += scrubbed.readableBytes
                replaced += count(needle, in: scrubbed)
                offset += n
            }
        }
        let rest = scrubber.finish()
        out += rest.readableBytes
        replaced += count(needle, in: rest)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return (Double(mebibytes << 20) / seconds, replaced)
    }

    /// Occurrences of the placeholder in a scrubbed piece (it is short and rare: one
    /// `firstIndex` per piece, then a compare).
    static func count(_ needle: [UInt8], in buffer: ByteBuffer) -> Int {
        buffer.withUnsafeReadableBytes { raw in
            var n = 0
            var i = 0
            let bytes = raw.bindMemory(to: UInt8.self)
            while i + needle.count <= bytes.count {
                guard let j = bytes[i...].firstIndex(of: needle[0]) else { break }
                if j + needle.count <= bytes.count, bytes[j..<(j + needle.count)].elementsEqual(needle) { n += 1 }
                i = j + 1
            }
            return n
        }
    }
}
