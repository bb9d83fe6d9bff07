import PortcullisPolicy

extension DNSMessage {
    /// A response to `request`: same ID, opcode, RD and CD, the question echoed, RA set, and an
    /// OPT record with our payload size when the request had one (RFC 6891 §6.1.1).
    public static func response(to request: DNSMessage, code: DNSResponseCode, answers: [DNSResourceRecord] = [],
                                authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = [],
                                echoQuestion: Bool = true) -> DNSMessage {
        var header = DNSHeader(id: request.header.id, isResponse: true, opcode: request.header.opcode,
                               recursionDesired: request.header.recursionDesired, recursionAvailable: true,
                               checkingDisabled: request.header.checkingDisabled, responseCode: code)
        header.authoritative = false
        var edns: DNSEDNS?
        if let theirs = request.edns { edns = DNSEDNS(udpPayloadSize: ourUDPPayloadSize, dnssecOK: theirs.dnssecOK) }
        return DNSMessage(header: header, questions: echoQuestion ? request.questions : [], answers: answers,
                          authorities: authorities, additionals: additionals, edns: edns)
    }

    /// A bare FORMERR or NOTIMP for a message whose body we cannot or will not read: the
    /// header's ID and opcode, no sections.
    public static func bareResponse(to header: DNSHeader, code: DNSResponseCode) -> DNSMessage {
        DNSMessage(header: DNSHeader(id: header.id, isResponse: true, opcode: header.opcode,
                                     recursionDesired: header.recursionDesired, recursionAvailable: true,
                                     responseCode: code))
    }

    /// The largest UDP response the sender of this query accepts from us: 512 without EDNS,
    /// else its advertised size, between 512 and our own 1232.
    public var udpResponseLimit: Int {
        guard let edns else { return DNSMessage.classicUDPSize }
        return max(DNSMessage.classicUDPSize, min(Int(edns.udpPayloadSize), Int(DNSMessage.ourUDPPayloadSize)))
    }
}
