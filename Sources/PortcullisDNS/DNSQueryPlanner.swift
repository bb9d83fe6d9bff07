import NIOCore
import PortcullisPolicy

/// A query that passed intake: one question, opcode QUERY, class IN.
public struct DNSQuery: Hashable, Sendable {
    public let request: DNSMessage
    public var question: DNSQuestion { request.questions[0] }
}

/// What intake found in a datagram or TCP frame.
public enum DNSIntake: Hashable, Sendable {
    /// Not even a header, or a response (never answer a response: no loops between resolvers).
    case drop
    /// Answer this at once (FORMERR, NOTIMP), without a decision.
    case reply(DNSMessage, DNSIntakeProblem)
    /// A well-formed question for the policy.
    case query(DNSQuery)
}

/// Why intake answered without a decision (metrics and logs).
public enum DNSIntakeProblem: String, Hashable, Sendable {
    case malformed = "formerr"
    case notImplemented = "notimp"
}

/// What to do with an admitted query, once the sandbox is known and its policy has spoken.
public enum DNSStep: Hashable, Sendable {
    /// Answer with this message.
    case reply(DNSMessage, DNSReplyKind)
    /// Forward the question upstream (through the cache).
    case forward
}

/// The kind of a locally built reply, for the audit reason and metrics.
public enum DNSReplyKind: String, Hashable, Sendable {
    case refused
    case hostsFile = "hosts-file"
    case minimalAny = "minimal-any"
    case noUpstream = "no-upstream"
}

/// The pure part of the DNS gateway: no sockets, no clock, no policy lookups of its own.
///
/// 1. `intake`: bytes → drop (no header, or a response), FORMERR (unreadable, not exactly one
///    question), NOTIMP (opcode other than QUERY, class other than IN, zone transfers), BADVERS
///    (EDNS version above 0), or a query.
/// 2. `step`: a query and the policy's verdict → REFUSED (rejected), an answer from the hosts
///    file (a listed name: its A/AAAA records, NOERROR with no records for other types),
///    a minimal answer to ANY (RFC 8482), forward, or NXDOMAIN when there is nowhere to forward.
public enum DNSQueryPlanner {
    /// TTL of answers built from the hosts file.
    public static let hostsFileTTL: UInt32 = 60

    public static func intake(_ bytes: ByteBuffer) -> DNSIntake {
        guard let header = DNSHeader.peek(bytes), !header.isResponse else { return .drop }
        guard header.opcode == .query else {
            return .reply(.bareResponse(to: header, code: .notImplemented), .notImplemented)
        }
        let request: DNSMessage
        do {
            request = try DNSMessage(parsing: bytes)
        } catch {
            return .reply(.bareResponse(to: header, code: .formatError), .malformed)
        }
        guard request.questions.count == 1, request.answers.isEmpty else {
            return .reply(.response(to: request, code: .formatError, echoQuestion: false), .malformed)
        }
        if let edns = request.edns, edns.version > 0 {
            // BADVERS (16): extended RCODE 1, header RCODE 0 (RFC 6891 §6.1.3).
            var response = DNSMessage.response(to: request, code: .noError)
            response.edns?.extendedResponseCode = 1
            return .reply(response, .notImplemented)
        }
        let question = request.questions[0]
        let transfers: Set<DNSRecordType> = [.axfr, .ixfr, .maila, .mailb, .opt]
        guard question.recordClass == .internet, !transfers.contains(question.type) else {
            return .reply(.response(to: request, code: .notImplemented), .notImplemented)
        }
        return .query(DNSQuery(request: request))
    }

    /// - Parameters:
    ///   - permitted: the policy's verdict on the question's name permits it.
    ///   - hostsFile: the name's addresses in the hosts file, nil when it is not listed.
    ///   - canForward: an upstream resolver is configured.
    public static func step(_ query: DNSQuery, permitted: Bool, hostsFile: [IPAddress]?, canForward: Bool) -> DNSStep {
        let request = query.request
        let question = query.question
        guard permitted else { return .reply(.response(to: request, code: .refused), .refused) }
        if question.type == .any {
            // RFC 8482 §4.2: one synthesized HINFO record instead of everything.
            let hinfo = DNSResourceRecord(name: question.name, type: .hinfo, ttl: hostsFileTTL,
                                          data: .opaque([7] + Array("RFC8482".utf8) + [0]))
            return .reply(.response(to: request, code: .noError, answers: [hinfo]), .minimalAny)
        }
        if let addresses = hostsFile {
            let records: [DNSResourceRecord] = addresses.compactMap { address in
                switch (address, question.type) {
                case (.v4, .a), (.v6, .aaaa):
                    return .address(question.name, address, ttl: hostsFileTTL)
                default:
                    return nil
                }
            }
            var response = DNSMessage.response(to: request, code: .noError, answers: records)
            response.header.authoritative = true
            return .reply(response, .hostsFile)
        }
        guard canForward else { return .reply(.response(to: request, code: .nameError), .noUpstream) }
        return .forward
    }

    /// The A/AAAA addresses an answer hands out for `name`: records owned by the name or by
    /// any name its CNAME chain (in this answer, at most 16 links) leads to, with their TTLs.
    public static func addresses(in answers: [DNSResourceRecord], for name: DNSName) -> [(IPAddress, UInt32)] {
        var chain = [name]
        var current = name
        for _ in 0..<16 {
            guard let link = answers.first(where: { $0.type == .cname && $0.name.matches(current) }),
                  case .cname(let target) = link.data, !chain.contains(where: { $0.matches(target) }) else { break }
            chain.append(target)
            current = target
        }
        var out: [(IPAddress, UInt32)] = []
        for record in answers where record.type == .a || record.type == .aaaa {
            guard let address = record.address, chain.contains(where: { $0.matches(record.name) }) else { continue }
            out.append((address, record.ttl))
        }
        return out
    }
}
