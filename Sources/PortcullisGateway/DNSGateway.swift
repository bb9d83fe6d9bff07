import Logging
import NIOCore
import PortcullisDNS
import PortcullisModel
import PortcullisPolicy
import PortcullisWire
import Synchronization

/// The DNS gateway's core, shared by its UDP and TCP listeners: intake, identity by source
/// address, the sandbox's policy (name stage, port ignored), the hosts-file override, the
/// cache and the forwarder; one audit event per decided query; every A/AAAA answer handed
/// to a sandbox remembered in `answers`.
///
/// Precedence for one query (docs/dns.md):
/// 1. unreadable or not a plain one-question query → drop / FORMERR / NOTIMP (no audit);
/// 2. source address mapped to no sandbox → REFUSED, `reject` by `unknown-source`;
/// 3. question name not a host name → REFUSED, `reject` by `dns-bad-name`;
/// 4. the policy rejects the name → REFUSED, `reject` with the decision's `rejected_by`;
/// 5. ANY → one synthesized HINFO (RFC 8482); `host.portcullis.internal` → this host's
///    address facing the sandbox; a hosts-file name → answered from the file;
/// 6. else the cache, else the upstreams (SERVFAIL and `error` when none answers), or
///    NXDOMAIN when no upstream is configured at all.
final class DNSGateway: Sendable {
    enum Transport: String, Sendable {
        case udp
        case tcp
    }

    let registry: PolicyRegistry
    let hosts: HostsFile
    let audit: AuditQueue
    let answers: AnswerMemory
    let metrics: DNSMetrics
    let forwarder: DNSForwarder?
    let logger: Logger
    let now: @Sendable () -> Timestamp
    private let cache: Mutex<DNSCache>
    /// Forwarded queries waiting for an upstream; beyond `maxInFlight`, SERVFAIL at once.
    private let inFlight = Atomic<Int>(0)
    let maxInFlight: Int
    /// Audit events for unknown sources in the current second: at most
    /// `maxUnknownSourceEventsPerSecond` are logged, the rest only counted, so a flood of
    /// (possibly spoofed) strangers cannot fill the audit queue and pause every listener.
    private let unknownSourceWindow = Mutex<(second: Int64, count: Int)>((0, 0))
    static let maxUnknownSourceEventsPerSecond = 50

    init(registry: PolicyRegistry, hosts: HostsFile, audit: AuditQueue, answers: AnswerMemory, metrics: DNSMetrics,
         forwarder: DNSForwarder?, cacheEntries: Int = 10_000, maxInFlight: Int = 4096, logger: Logger,
         now: @escaping @Sendable () -> Timestamp = { Timestamp.now() }) {
        self.registry = registry
        self.hosts = hosts
        self.audit = audit
        self.answers = answers
        self.metrics = metrics
        self.forwarder = forwarder
        self.logger = logger
        self.now = now
        self.cache = Mutex(DNSCache(maxEntries: cacheEntries))
        self.maxInFlight = maxInFlight
    }

    var cachedEntries: Int { cache.withLock { $0.count } }

    /// The response to one message, written for its transport; nil: send nothing.
    /// The future completes on `eventLoop`.
    func handle(_ bytes: ByteBuffer, from source: SocketAddress?, transport: Transport,
                on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        switch DNSQueryPlanner.intake(bytes) {
        case .drop:
            metrics.query("drop")
            return eventLoop.makeSucceededFuture(nil)
        case .reply(let message, let problem):
            metrics.query(problem.rawValue)
            return eventLoop.makeSucceededFuture(message.write(maxSize: transport == .udp ? DNSMessage.classicUDPSize : 65535))
        case .query(let query):
            return decide(query, from: source, transport: transport, on: eventLoop)
        }
    }

    private func decide(_ query: DNSQuery, from source: SocketAddress?, transport: Transport,
                        on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        let limit = transport == .udp ? query.request.udpResponseLimit : 65535
        let started = NIODeadline.now()
        let time = now()
        let snapshot = registry.snapshot
        let question = query.question
        var event = AuditEvent(time: time, tenantID: nil, sandboxID: nil, client: source.auditText, via: AuditVia.dns,
                               host: String(question.name.description.prefix(AuditEvent.maxHostLength)), port: 53,
                               transport: transport.rawValue, action: .reject, reason: "",
                               policyVersion: snapshot.version)
        func finish(_ response: DNSMessage, log: Bool = true) -> EventLoopFuture<ByteBuffer?> {
            eventLoop.makeSucceededFuture(complete(&event, with: response, started: started, limit: limit, log: log))
        }
        guard let ip = source.flatMap(IPAddress.init(socketAddress:)), let id = snapshot.bySourceAddress[ip],
              let sandbox = snapshot.sandboxes[id]
        else {
            event.rejectedBy = AuditVocabulary.unknownSource
            event.reason = "no sandbox uses the source address \(source?.ipAddress ?? "?")"
            let second = time.milliseconds / 1000
            let log = unknownSourceWindow.withLock { window -> Bool in
                if window.second != second { window = (second, 0) }
                window.count += 1
                return window.count <= Self.maxUnknownSourceEventsPerSecond
            }
            if log {
                logger.info("DNS query from an unknown source refused",
                            metadata: ["client": "\(event.client)", "name": "\(event.host)"])
            }
            return finish(.response(to: query.request, code: .refused), log: log)
        }
        event.sandboxID = sandbox.sandboxID
        event.tenantID = sandbox.tenantID
        guard let name = question.name.domainName else {
            event.rejectedBy = AuditVocabulary.dnsBadName
            event.reason = "\(question.name) is not a host name the policy can judge"
            return finish(.response(to: query.request, code: .refused))
        }
        let decision = sandbox.policy.decide(.dnsQuestion(name))
        event.host = name.text
        event.action = AuditAction(decision.verdict)
        event.wouldReject = decision.wouldReject
        event.ruleID = decision.ruleID
        event.rejectedBy = decision.rejectedBy
        event.reason = decision.reason
        event.policyVersion = decision.policyVersion
        event.joinsPending = decision.joinsPending
        let listed = localAnswer(for: name, to: ip) ?? hosts.addresses(for: name)
        switch DNSQueryPlanner.step(query, permitted: decision.verdict.permits, hostsFile: listed, canForward: forwarder != nil) {
        case .reply(let response, let kind):
            switch kind {
            case .hostsFile:
                remember(response.answers, for: question.name, name: name, sandboxID: sandbox.sandboxID, at: time)
            case .noUpstream:
                event.reason += "; no upstream resolver is configured, so a name outside the hosts file does not exist"
            case .refused, .minimalAny:
                break
            }
            return finish(response)
        case .forward:
            break
        }
        if let hit = cache.withLock({ $0.lookup(question, now: time) }) {
            metrics.cacheHits.increment()
            let response = DNSMessage.response(to: query.request, code: hit.code, answers: hit.answers,
                                               authorities: hit.authorities, additionals: hit.additionals)
            remember(response.answers, for: question.name, name: name, sandboxID: sandbox.sandboxID, at: time)
            return finish(response)
        }
        metrics.cacheMisses.increment()
        guard let forwarder, inFlight.add(1, ordering: .relaxed).newValue <= maxInFlight else {
            inFlight.subtract(1, ordering: .relaxed)
            event.action = .error
            event.reason = "too many DNS queries are waiting for an upstream answer"
            event.joinsPending = false
            return finish(.response(to: query.request, code: .serverFailure))
        }
        let dnssecOK = query.request.edns?.dnssecOK ?? false
        let eventBox = event
        return forwarder.query(question, dnssecOK: dnssecOK).hop(to: eventLoop).map { [self] upstream -> ByteBuffer? in
            inFlight.subtract(1, ordering: .relaxed)
            let stored = now()
            cache.withLock { $0.store(upstream, for: question, now: stored) }
            var event = eventBox
            let response = DNSMessage.response(to: query.request, code: upstream.header.responseCode, answers: upstream.answers,
                                               authorities: upstream.authorities, additionals: upstream.additionals)
            remember(response.answers, for: question.name, name: name, sandboxID: sandbox.sandboxID, at: stored)
            return complete(&event, with: response, started: started, limit: limit)
        }.flatMapError { [self] error in
            inFlight.subtract(1, ordering: .relaxed)
            var event = eventBox
            event.action = .error
            event.reason = "\(error)"
            event.joinsPending = false
            let response = DNSMessage.response(to: query.request, code: .serverFailure)
            return eventLoop.makeSucceededFuture(complete(&event, with: response, started: started, limit: limit, metric: "servfail"))
        }
    }

    /// Fills the event's status and duration, counts it (under `metric`, default its action),
    /// logs it unless told not to, and writes the response for the transport's size limit.
    private func complete(_ event: inout AuditEvent, with response: DNSMessage, started: NIODeadline, limit: Int,
                          metric: String? = nil, log: Bool = true) -> ByteBuffer? {
        event.status = Int(response.header.responseCode.rawValue)
        event.durationMs = (NIODeadline.now() - started).nanoseconds / 1_000_000
        metrics.query(metric ?? event.action.rawValue)
        if log { audit.submit(event) }
        return response.write(maxSize: limit)
    }

    /// The addresses answered here whatever the hosts file and the upstreams say:
    /// `host.portcullis.internal` is the address of this host that faces the sandbox (for a
    /// `portcullis run` sandbox, the host end of its link), which the transparent listener
    /// dials as the host's loopback (`GatewayHost`). nil for every other name.
    private func localAnswer(for name: DomainName, to sandbox: IPAddress) -> [IPAddress]? {
        guard name == GatewayHost.internalName else { return nil }
        return LocalRoute.address(facing: sandbox).map { [$0] } ?? []
    }

    /// Writes the answer's A/AAAA records (the end of any CNAME chain included) into the
    /// sandbox's answer memory, under the name asked.
    private func remember(_ records: [DNSResourceRecord], for asked: DNSName, name: DomainName, sandboxID: String, at time: Timestamp) {
        let found = DNSQueryPlanner.addresses(in: records, for: asked)
        guard !found.isEmpty else { return }
        var byTTL: [UInt32: [IPAddress]] = [:]
        for (address, ttl) in found { byTTL[ttl, default: []].append(address) }
        for (ttl, addresses) in byTTL {
            answers.remember(sandboxID: sandboxID, name: name, addresses: addresses, ttlSeconds: ttl, now: time)
        }
    }
}
