import CPortcullisSearch
import NIOCore
import PortcullisPolicy
import PortcullisWire

/// Response scrubbing (INSPECTION.md, "Responses are scrubbed"): every occurrence of an
/// injected secret in a response — raw, base64, base64url, percent-encoded or JSON-escaped — is replaced
/// by its placeholder before the sandbox sees it. Streamed: a body is never buffered whole;
/// the last `longest - 1` bytes of each chunk wait for the next, so a secret split across
/// chunks is still found.
///
/// Base64 forms are searched at all three alignments of the secret within the encoded
/// stream (the part of the encoding that does not depend on the bytes around it), so a
/// secret echoed inside a larger base64 value — `user:secret` in a Basic header — is found.
///
/// Public so the benchmark package can measure its throughput on its own
/// (`Benchmarks/CredentialBench`); the proxy is its one user.
public struct SecretScrubber: Sendable {
    struct Pattern: Sendable {
        let bytes: [UInt8]
        let replacement: [UInt8]
        let name: String
    }

    private(set) var patterns: [Pattern]
    private let longest: Int
    private var tail: [UInt8] = []
    /// The credentials found so far (their names).
    public private(set) var reflected: Set<String> = []

    /// Patterns from a `ScrubPlan` (computed once per policy change). Two credentials with
    /// one secret give the same patterns twice: overlapping matches are taken once.
    init(patterns: [Pattern]) {
        self.patterns = patterns
        self.longest = patterns.map(\.bytes.count).max() ?? 0
    }

    /// For every credential in `bindings` (tests and the benchmark; the proxy takes its
    /// plan's patterns).
    public init(_ bindings: [CredentialBinding]) {
        self = ScrubPlan(bindings).scrubber(for: bindings.map(\.name))
    }

    var isEmpty: Bool { patterns.isEmpty }

    /// The encodings of a secret that a response may carry.
    static func forms(of secret: [UInt8]) -> [[UInt8]] {
        guard !secret.isEmpty else { return [] }
        var forms: [[UInt8]] = [secret]
        for alignment in 0..<3 {
            // Encode the secret after `alignment` filler bytes, keep only the characters that
            // depend on the secret alone.
            let filler = [UInt8](repeating: 0, count: alignment)
            let encoded = Array(Base64.encode(filler + secret).utf8)
            let skip = (alignment * 4 + 2) / 3        // characters touched by the filler
            let usableBytes = (alignment + secret.count) / 3 * 3 - alignment  // whole groups only
            let end = (alignment + usableBytes) / 3 * 4
            guard end > skip, end <= encoded.count else { continue }
            let core = Array(encoded[skip..<end])
            forms.append(core)
            forms.append(core.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: "-") : $0 == UInt8(ascii: "/") ? UInt8(ascii: "_") : $0 })
        }
        // Percent-encoded as the common encoders write it: hex in either case, `/` escaped
        // (encodeURIComponent) or kept (Python's quote), a space as %20 or `+` (form encoding).
        for keepSlash in [false, true] {
            for spaceAsPlus in [false, true] {
                let upper = percentEncoded(secret, keepSlash: keepSlash, spaceAsPlus: spaceAsPlus)
                guard upper != secret else { continue }
                forms.append(upper)
                forms.append(Array(String(decoding: upper, as: UTF8.self).lowercasedPercentEscapes().utf8))
            }
        }
        // Inside a JSON string: `"` and `\` escaped, `/` as is or as `\/` (PHP's json_encode).
        for escapeSlash in [false, true] {
            let json = jsonEscaped(secret, escapeSlash: escapeSlash)
            if json != secret { forms.append(json) }
        }
        return forms
    }

    /// `secret` percent-encoded: unreserved bytes (RFC 3986) kept, and `/` with `keepSlash`;
    /// a space as `+` with `spaceAsPlus`; every other byte `%XX` in upper case.
    static func percentEncoded(_ secret: [UInt8], keepSlash: Bool, spaceAsPlus: Bool) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(secret.count * 3)
        for b in secret {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(b)
            case UInt8(ascii: "/") where keepSlash:
                out.append(b)
            case UInt8(ascii: " ") where spaceAsPlus:
                out.append(UInt8(ascii: "+"))
            default:
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            }
        }
        return out
    }

    /// `secret` as it appears inside a JSON string (secrets hold no control characters).
    static func jsonEscaped(_ secret: [UInt8], escapeSlash: Bool) -> [UInt8] {
        var out: [UInt8] = []
        for b in secret {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || (escapeSlash && b == UInt8(ascii: "/")) {
                out.append(UInt8(ascii: "\\"))
            }
            out.append(b)
        }
        return out
    }

    /// Scrubs one chunk; what is returned may be shorter (bytes wait for the next chunk).
    public mutating func scrub(_ chunk: ByteBuffer) -> ByteBuffer {
        guard !patterns.isEmpty else { return chunk }
        var work = tail
        work.append(contentsOf: chunk.readableBytesView)
        let safe = max(0, work.count - (longest - 1))
        let (output, consumed) = work.withUnsafeBufferPointer { replace($0, upTo: safe) }
        tail = Array(work[consumed...])
        if let output { return ByteBuffer(bytes: output) }
        return ByteBuffer(bytes: work[..<consumed])
    }

    /// What is left at the end of the body.
    public mutating func finish() -> ByteBuffer {
        guard !tail.isEmpty else { return ByteBuffer() }
        let work = tail
        tail = []
        let (output, consumed) = work.withUnsafeBufferPointer { replace($0, upTo: $0.count) }
        guard let output else { return ByteBuffer(bytes: work) }
        return ByteBuffer(bytes: output + work[consumed...])
    }

    /// A whole body at once (a held response's), scanned where it lies: returned as it is
    /// when it holds no secret (most bodies), rebuilt otherwise. Only on a scrubber that has
    /// not streamed (`scrub(_:)` keeps a tail this does not see).
    public mutating func scrub(whole body: ByteBuffer) -> ByteBuffer {
        precondition(tail.isEmpty, "scrub(whole:) after scrub(_:)")
        guard !patterns.isEmpty, body.readableBytes > 0 else { return body }
        var scrubbed: [UInt8]?
        body.withUnsafeReadableBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let (output, consumed) = replace(bytes, upTo: bytes.count)
            if var output {
                output.append(contentsOf: bytes[consumed...])
                scrubbed = output
            }
        }
        guard let scrubbed else { return body }
        return ByteBuffer(bytes: scrubbed)
    }

    /// A whole value (a header's), scrubbed at once.
    mutating func scrub(text: String) -> String {
        guard !patterns.isEmpty, occurs(in: text) else { return text }
        let bytes = Array(text.utf8)
        let (output, consumed) = bytes.withUnsafeBufferPointer { replace($0, upTo: $0.count) }
        guard let output else { return text }
        return String(decoding: output + bytes[consumed...], as: UTF8.self)
    }

    /// Whether any pattern occurs in `text`, read in place (most header values hold none:
    /// they are then kept as they are, nothing copied).
    func occurs(in text: String) -> Bool {
        var text = text
        return text.withUTF8 { haystack in
            guard let base = haystack.baseAddress else { return false }
            return patterns.contains { pattern in
                pattern.bytes.count <= haystack.count && pattern.bytes.withUnsafeBufferPointer { needle in
                    portcullis_memmem(base, UInt(haystack.count), needle.baseAddress, UInt(needle.count)) != nil
                }
            }
        }
    }

    /// Replaces every match that starts before `limit` (leftmost first); returns the output
    /// and how many input bytes it covers (at least `limit`, more when a match crossed it).
    /// No match: no output (nil), and `limit` bytes covered — the caller keeps them as they are.
    private mutating func replace(_ work: UnsafeBufferPointer<UInt8>, upTo limit: Int) -> ([UInt8]?, Int) {
        var matches: [(start: Int, pattern: Int)] = []
        if let base = work.baseAddress {
            for (index, pattern) in patterns.enumerated() {
                var from = 0
                while from < limit {
                    let found = pattern.bytes.withUnsafeBufferPointer { needle -> UnsafeRawPointer? in
                        portcullis_memmem(base + from, UInt(work.count - from), needle.baseAddress, UInt(needle.count))
                    }
                    guard let found else { break }
                    let start = found - UnsafeRawPointer(base)
                    guard start < limit else { break }
                    matches.append((start, index))
                    from = start + pattern.bytes.count
                }
            }
        }
        guard !matches.isEmpty else { return (nil, limit) }
        matches.sort { $0.start < $1.start }
        var output: [UInt8] = []
        output.reserveCapacity(limit)
        var position = 0
        for match in matches where match.start >= position {
            let pattern = patterns[match.pattern]
            output.append(contentsOf: work[position..<match.start])
            output.append(contentsOf: pattern.replacement)
            reflected.insert(pattern.name)
            position = match.start + pattern.bytes.count
        }
        if position < limit {
            output.append(contentsOf: work[position..<limit])
            position = limit
        }
        return (output, position)
    }
}

extension String {
    /// `%2F` → `%2f`: the other spelling of the same percent-escapes.
    func lowercasedPercentEscapes() -> String {
        var out = ""
        var remaining = 0
        for ch in self {
            if ch == "%" {
                remaining = 2
                out.append(ch)
            } else if remaining > 0 {
                remaining -= 1
                out += String(ch).lowercased()
            } else {
                out.append(ch)
            }
        }
        return out
    }
}
