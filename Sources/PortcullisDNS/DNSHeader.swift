/// The 12-byte message header (RFC 1035 §4.1.1):
///
///       0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
///     +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
///     |                      ID                       |
///     |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
///     |                    QDCOUNT                    |
///     |                    ANCOUNT                    |
///     |                    NSCOUNT                    |
///     |                    ARCOUNT                    |
///     +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
public struct DNSHeader: Hashable, Sendable {
    public static let size = 12

    public var id: UInt16
    public var isResponse: Bool
    public var opcode: DNSOpcode
    public var authoritative: Bool
    public var truncated: Bool
    public var recursionDesired: Bool
    public var recursionAvailable: Bool
    public var authenticData: Bool
    public var checkingDisabled: Bool
    public var responseCode: DNSResponseCode
    /// Counts as read from the wire (a parsed message's sections hold what was actually there).
    public var questionCount: UInt16 = 0
    public var answerCount: UInt16 = 0
    public var authorityCount: UInt16 = 0
    public var additionalCount: UInt16 = 0

    public init(id: UInt16, isResponse: Bool = false, opcode: DNSOpcode = .query, authoritative: Bool = false,
                truncated: Bool = false, recursionDesired: Bool = true, recursionAvailable: Bool = false,
                authenticData: Bool = false, checkingDisabled: Bool = false, responseCode: DNSResponseCode = .noError) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.authoritative = authoritative
        self.truncated = truncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.responseCode = responseCode
    }

    /// The second 16-bit word.
    var flags: UInt16 {
        var f: UInt16 = 0
        if isResponse { f |= 0x8000 }
        f |= UInt16(opcode.rawValue) << 11
        if authoritative { f |= 0x0400 }
        if truncated { f |= 0x0200 }
        if recursionDesired { f |= 0x0100 }
        if recursionAvailable { f |= 0x0080 }
        if authenticData { f |= 0x0020 }
        if checkingDisabled { f |= 0x0010 }
        f |= UInt16(responseCode.rawValue)
        return f
    }

    init(id: UInt16, flags f: UInt16) {
        self.init(id: id, isResponse: f & 0x8000 != 0, opcode: DNSOpcode(UInt8((f >> 11) & 0x0F)),
                  authoritative: f & 0x0400 != 0, truncated: f & 0x0200 != 0, recursionDesired: f & 0x0100 != 0,
                  recursionAvailable: f & 0x0080 != 0, authenticData: f & 0x0020 != 0,
                  checkingDisabled: f & 0x0010 != 0, responseCode: DNSResponseCode(UInt8(f & 0x0F)))
    }
}
