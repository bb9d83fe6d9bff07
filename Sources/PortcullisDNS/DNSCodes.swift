/// Wire codes of DNS (RFC 1035 §3.2, §4.1.1; RFC 6891), as open structs so that values we do
/// not name still fit.

/// A header's OPCODE (4 bits).
public struct DNSOpcode: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(_ rawValue: UInt8) { self.rawValue = rawValue & 0x0F }
    public static let query = DNSOpcode(0)
    public static let inverseQuery = DNSOpcode(1)
    public static let status = DNSOpcode(2)
    public static let notify = DNSOpcode(4)
    public static let update = DNSOpcode(5)
    public var description: String { "opcode \(rawValue)" }
}

/// A header's RCODE (4 bits; EDNS0 extends it, we never send extended codes).
public struct DNSResponseCode: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(_ rawValue: UInt8) { self.rawValue = rawValue & 0x0F }
    public static let noError = DNSResponseCode(0)
    public static let formatError = DNSResponseCode(1)
    public static let serverFailure = DNSResponseCode(2)
    public static let nameError = DNSResponseCode(3)
    public static let notImplemented = DNSResponseCode(4)
    public static let refused = DNSResponseCode(5)

    public var description: String {
        switch rawValue {
        case 0: return "NOERROR"
        case 1: return "FORMERR"
        case 2: return "SERVFAIL"
        case 3: return "NXDOMAIN"
        case 4: return "NOTIMP"
        case 5: return "REFUSED"
        default: return "RCODE\(rawValue)"
        }
    }
}

/// A record or question TYPE.
public struct DNSRecordType: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    public static let a = DNSRecordType(1)
    public static let ns = DNSRecordType(2)
    public static let cname = DNSRecordType(5)
    public static let soa = DNSRecordType(6)
    public static let ptr = DNSRecordType(12)
    public static let hinfo = DNSRecordType(13)
    public static let mx = DNSRecordType(15)
    public static let txt = DNSRecordType(16)
    public static let aaaa = DNSRecordType(28)
    public static let srv = DNSRecordType(33)
    public static let opt = DNSRecordType(41)
    public static let ixfr = DNSRecordType(251)
    public static let axfr = DNSRecordType(252)
    public static let mailb = DNSRecordType(253)
    public static let maila = DNSRecordType(254)
    public static let any = DNSRecordType(255)

    public var description: String {
        switch rawValue {
        case 1: return "A"
        case 2: return "NS"
        case 5: return "CNAME"
        case 6: return "SOA"
        case 12: return "PTR"
        case 13: return "HINFO"
        case 15: return "MX"
        case 16: return "TXT"
        case 28: return "AAAA"
        case 33: return "SRV"
        case 41: return "OPT"
        case 252: return "AXFR"
        case 255: return "ANY"
        default: return "TYPE\(rawValue)"
        }
    }
}

/// A record or question CLASS.
public struct DNSClass: Hashable, Sendable {
    public var rawValue: UInt16
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    public static let internet = DNSClass(1)
    public static let chaos = DNSClass(3)
    public static let any = DNSClass(255)
}
