import PortcullisPolicy

/// One entry of the question section (RFC 1035 §4.1.2).
public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: DNSClass

    public init(name: DNSName, type: DNSRecordType, recordClass: DNSClass = .internet) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
    }

    /// Same name (ignoring case), type and class.
    public func matches(_ other: DNSQuestion) -> Bool {
        type == other.type && recordClass == other.recordClass && name.matches(other.name)
    }
}

/// What a record carries. A, AAAA and CNAME are understood; everything else is kept as
/// opaque bytes. Note to maintainers: names inside the RDATA of the RFC 1035 types that
/// may be compressed (NS, PTR, MX, SOA, …) are expanded on read, so opaque RDATA never holds
/// a pointer into a message it no longer belongs to.
public enum DNSRecordData: Hashable, Sendable {
    case a(IPv4Address)
    case aaaa(IPv6Address)
    case cname(DNSName)
    case opaque([UInt8])
}

/// A resource record of the answer, authority or additional section (RFC 1035 §4.1.3).
public struct DNSResourceRecord: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: DNSClass
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, type: DNSRecordType, recordClass: DNSClass = .internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    public static func address(_ name: DNSName, _ address: IPAddress, ttl: UInt32) -> DNSResourceRecord {
        switch address {
        case .v4(let a): return DNSResourceRecord(name: name, type: .a, ttl: ttl, data: .a(a))
        case .v6(let a): return DNSResourceRecord(name: name, type: .aaaa, ttl: ttl, data: .aaaa(a))
        }
    }

    /// The address of an A or AAAA record.
    public var address: IPAddress? {
        switch data {
        case .a(let a): return .v4(a)
        case .aaaa(let a): return IPAddress.canonical(a)
        case .cname, .opaque: return nil
        }
    }
}

/// The EDNS0 OPT pseudo-record (RFC 6891 §6.1): the sender's UDP payload size, the upper
/// bits of the response code, the version and the DO bit; options kept as opaque bytes.
public struct DNSEDNS: Hashable, Sendable {
    public var udpPayloadSize: UInt16
    public var extendedResponseCode: UInt8
    public var version: UInt8
    public var dnssecOK: Bool
    public var options: [UInt8]

    public init(udpPayloadSize: UInt16, extendedResponseCode: UInt8 = 0, version: UInt8 = 0, dnssecOK: Bool = false,
                options: [UInt8] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedResponseCode = extendedResponseCode
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }

    /// Bytes the OPT record takes on the wire (root name, fixed fields, options).
    var wireSize: Int { 11 + options.count }
}

/// A whole DNS message. The header's counts are derived from the sections when written.
public struct DNSMessage: Hashable, Sendable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorities: [DNSResourceRecord]
    /// The additional section without the OPT record (that one is `edns`).
    public var additionals: [DNSResourceRecord]
    public var edns: DNSEDNS?

    public init(header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
                authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = [], edns: DNSEDNS? = nil) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
        self.edns = edns
    }

    /// The classic UDP limit without EDNS (RFC 1035 §4.2.1).
    public static let classicUDPSize = 512
    /// The UDP payload size we advertise and accept at most (RFC 9715's advice, 1232).
    public static let ourUDPPayloadSize: UInt16 = 1232
}
