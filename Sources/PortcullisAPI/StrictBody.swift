/// A request body that strict input refuses: answered 400 with `message`.
public struct StrictInputError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Strict input (API.md, "Strict input"), checked on the raw bytes before anything decodes
/// them, in one pass: a field the operation does not define is refused, naming it and the
/// defined field it is close to (`unknown field "mode"; did you mean "default_mode"?`); a
/// key given twice in one object is refused (decoders disagree on which one wins); `null`
/// for a field the document does not make nullable is refused rather than read as "left
/// out". Anything else (types, ranges, cross-field rules) is the decoder's and the control
/// plane's to judge. The walk is bounded: at most `maxDepth` nested objects and arrays.
///
/// Note to maintainers: this is the one place unknown fields are caught, for every
/// operation, because the server's transport calls it for every body (and the CLI's
/// `import` for the file it sends). Run scripts/embed-request-shapes after changing a
/// request schema in the document.
public enum StrictBody {
    public static let maxDepth = 64

    /// Checks a whole request body against what its operation takes. Returns the body's
    /// top-level fields given as `null` (for the few operations where null means something
    /// other than "left out": `PATCH {"name": null}` removes the name, and a decoder reads
    /// both as nil).
    @discardableResult
    public static func check(_ bytes: ArraySlice<UInt8>, against body: RequestBody) throws(StrictInputError) -> Set<String> {
        let outcome = bytes.withUnsafeBufferPointer { buffer -> Result<Set<String>, StrictInputError> in
            var scanner = Scanner(bytes: buffer)
            do throws(StrictInputError) {
                switch body {
                case .json(let shape): try scanner.document(shape)
                case .none: try scanner.emptyDocument()
                }
                return .success(scanner.topLevelNulls)
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    @discardableResult
    public static func check(_ bytes: [UInt8], against body: RequestBody) throws(StrictInputError) -> Set<String> {
        try check(bytes[...], against: body)
    }

    /// `"name"` as messages show a name or value: escaped, at most 64 characters.
    static func quoted(_ s: String) -> String { Scanner.quoted(s) }
}

/// The one-pass walk over the bytes (RFC 8259 grammar), carrying the shape expected here.
private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0
    /// Where the walk is, for messages (`allow_rules[0]`).
    var path: [Step] = []
    /// Fields of the top-level object given as `null`.
    var topLevelNulls: Set<String> = []

    enum Step {
        case key(String)
        case index(Int)
    }

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    // MARK: documents

    mutating func document(_ shape: BodyShape) throws(StrictInputError) {
        try value(shape, depth: 0)
        skipSpace()
        guard i == bytes.count else { throw invalid() }
    }

    /// An operation without a body: `{}` (or nothing, which never reaches here) only.
    mutating func emptyDocument() throws(StrictInputError) {
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { throw StrictInputError("this operation takes no body") }
        try document(.object(ObjectShape("", [])))
    }

    // MARK: values

    mutating func value(_ shape: BodyShape?, depth: Int) throws(StrictInputError) {
        skipSpace()
        guard i < bytes.count else { throw invalid() }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            var object: ObjectShape?
            if case .object(let o)? = Self.pick(shape, forObject: true) { object = o }
            try self.object(object, depth: depth + 1)
        case UInt8(ascii: "["):
            var items: BodyShape?
            if case .array(let s)? = Self.pick(shape, forObject: false) { items = s }
            try array(items, depth: depth + 1)
        case UInt8(ascii: "\""): _ = try string(keep: false)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw invalid()
        }
    }

    /// The shape for an object (or array) value: the shape itself, or the matching
    /// alternative of a `oneOf`; nil when nothing in the document expects one here (the
    /// decoder then refuses the value's type).
    static func pick(_ shape: BodyShape?, forObject: Bool) -> BodyShape? {
        switch shape {
        case .object?: return forObject ? shape : nil
        case .array?: return forObject ? nil : shape
        case .oneOf(let alternatives)?:
            for a in alternatives { if let chosen = pick(a, forObject: forObject) { return chosen } }
            return nil
        case .scalar?, nil: return nil
        }
    }

    mutating func object(_ shape: ObjectShape?, depth: Int) throws(StrictInputError) {
        guard depth <= StrictBody.maxDepth else { throw tooDeep() }
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return
        }
        var seen: Set<String> = []
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw invalid() }
            let key = try string(keep: true) ?? ""
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw invalid() }
            i += 1
            var fieldShape: BodyShape?
            if let shape {
                guard let field = shape.field(key) else { throw unknown(key, in: shape) }
                fieldShape = field.shape
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "n") {
                    guard field.nullable else {
                        try literal("null")
                        throw StrictInputError("\(render(path + [.key(key)])) must not be null; leave it out instead")
                    }
                    if path.isEmpty { topLevelNulls.insert(key) }
                }
            }
            guard seen.insert(key).inserted else { throw duplicate(key) }
            path.append(.key(key))
            try value(fieldShape, depth: depth)
            path.removeLast()
            skipSpace()
            guard i < bytes.count else { throw invalid() }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard bytes[i] == UInt8(ascii: "}") else { throw invalid() }
            i += 1
            return
        }
    }

    mutating func array(_ items: BodyShape?, depth: Int) throws(StrictInputError) {
        guard depth <= StrictBody.maxDepth else { throw tooDeep() }
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return
        }
        var index = 0
        while true {
            path.append(.index(index))
            try value(items, depth: depth)
            path.removeLast()
            skipSpace()
            guard i < bytes.count else { throw invalid() }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                index += 1
                continue
            }
            guard bytes[i] == UInt8(ascii: "]") else { throw invalid() }
            i += 1
            return
        }
    }

    // MARK: tokens

    mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    mutating func literal(_ word: StaticString) throws(StrictInputError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - i >= count else { throw invalid() }
        let start = word.utf8Start
        for k in 0..<count where bytes[i + k] != start[k] { throw invalid() }
        i += count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    mutating func number() throws(StrictInputError) {
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, Self.isDigit(bytes[i]) else { throw invalid() }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else { digits() }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < bytes.count, Self.isDigit(bytes[i]) else { throw invalid() }
            digits()
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, Self.isDigit(bytes[i]) else { throw invalid() }
            digits()
        }
    }

    mutating func digits() {
        while i < bytes.count, Self.isDigit(bytes[i]) { i += 1 }
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// A string at `i` (its opening quote); its decoded text when `keep`.
    mutating func string(keep: Bool) throws(StrictInputError) -> String? {
        i += 1
        let start = i
        var escaped = false
        while true {
            guard i < bytes.count else { throw invalid() }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 { throw invalid() }
            if b == UInt8(ascii: "\\") {
                escaped = true
                i += 1
                guard i < bytes.count else { throw invalid() }
                switch bytes[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    guard bytes.count - i > 4 else { throw invalid() }
                    for k in 1...4 where Self.hexValue(bytes[i + k]) == nil { throw invalid() }
                    i += 5
                default:
                    throw invalid()
                }
                continue
            }
            i += 1
        }
        let end = i
        i += 1
        guard keep else { return nil }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
        return escaped ? Self.unescape(raw) : String(decoding: raw, as: UTF8.self)
    }

    /// The text of a string body already checked by `string` (escapes well formed).
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        var plain: [UInt8] = []
        func flush() {
            if !plain.isEmpty { scalars.append(contentsOf: String(decoding: plain, as: UTF8.self).unicodeScalars) }
            plain.removeAll(keepingCapacity: true)
        }
        func hex4(_ at: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 << 4 | (hexValue(raw[at + $1]) ?? 0) }
        }
        var k = 0
        while k < raw.count {
            guard raw[k] == UInt8(ascii: "\\") else {
                plain.append(raw[k])
                k += 1
                continue
            }
            flush()
            let c = raw[k + 1]
            k += 2
            switch c {
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var v = hex4(k)
                k += 4
                if (0xD800...0xDBFF).contains(v), k + 5 < raw.count, raw[k] == UInt8(ascii: "\\"), raw[k + 1] == UInt8(ascii: "u") {
                    let low = hex4(k + 2)
                    if (0xDC00...0xDFFF).contains(low) {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                        k += 6
                    }
                }
                scalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            default: scalars.append(Unicode.Scalar(c))
            }
        }
        flush()
        return String(scalars)
    }

    // MARK: messages

    func render(_ steps: [Step]) -> String {
        var out = ""
        for step in steps {
            switch step {
            case .key(let k): out += (out.isEmpty ? "" : ".") + k
            case .index(let n): out += "[\(n)]"
            }
        }
        return out.isEmpty ? "body" : out
    }

    func invalid() -> StrictInputError {
        StrictInputError("the body is not valid JSON (at byte \(i))")
    }

    func tooDeep() -> StrictInputError {
        StrictInputError("the body nests objects and arrays deeper than \(StrictBody.maxDepth) levels")
    }

    func duplicate(_ key: String) -> StrictInputError {
        let place = path.isEmpty ? "" : " in \(render(path))"
        return StrictInputError("field \(Self.quoted(key)) is given twice\(place); give each field once")
    }

    func unknown(_ key: String, in shape: ObjectShape) -> StrictInputError {
        let place = path.isEmpty ? "" : " in \(render(path))"
        let head = "unknown field \(Self.quoted(key))\(place)"
        if shape.fields.isEmpty { return StrictInputError("\(head); this operation takes no body") }
        if let meant = FieldSuggestion.closest(to: key, among: shape.fields.map(\.name)) {
            return StrictInputError("\(head); did you mean \(Self.quoted(meant))?")
        }
        let names = shape.fields.map { Self.quoted($0.name) }
        let list = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names[names.count - 1]
        return StrictInputError("\(head); the fields \(path.isEmpty ? "of this body" : "there") are \(list)")
    }

    /// `"name"`, with quotes, backslashes and control characters escaped and at most 64
    /// characters shown, so a hostile key reads as one bounded token.
    static func quoted(_ s: String) -> String {
        var out = "\""
        var count = 0
        for scalar in s.unicodeScalars {
            if count == 64 {
                out += "…"
                break
            }
            count += 1
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
