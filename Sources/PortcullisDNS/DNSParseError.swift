/// Why a message could not be read. A struct over a private code, so new cases do not break
/// callers; every value names what was wrong and where.
public struct DNSParseError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: Hashable, Sendable {
        case truncated
        case labelType
        case nameTooLong
        case badPointer
        case tooManyPointers
        case badRecordLength
        case duplicateOPT
        case misplacedOPT
        case trailingBytes
        case messageTooLong
    }

    let code: Code
    /// Byte offset in the message where the problem was found.
    public let offset: Int

    init(_ code: Code, at offset: Int) {
        self.code = code
        self.offset = offset
    }

    public static let truncated = DNSParseError(.truncated, at: 0)

    /// True when the message simply ended early (as opposed to being malformed).
    public var isTruncation: Bool { code == .truncated }

    public var description: String {
        switch code {
        case .truncated: return "the message ends inside a field at byte \(offset)"
        case .labelType: return "a label length at byte \(offset) is over 63 (or an unknown label type)"
        case .nameTooLong: return "a name at byte \(offset) is longer than 255 bytes"
        case .badPointer: return "a compression pointer at byte \(offset) does not point strictly backwards"
        case .tooManyPointers: return "a name at byte \(offset) follows too many compression pointers"
        case .badRecordLength: return "a record's RDLENGTH at byte \(offset) does not fit its type or the message"
        case .duplicateOPT: return "more than one OPT record (byte \(offset))"
        case .misplacedOPT: return "an OPT record outside the additional section or not at the root (byte \(offset))"
        case .trailingBytes: return "bytes left after the last record (byte \(offset))"
        case .messageTooLong: return "the message is longer than 65535 bytes"
        }
    }
}
