import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire
import Testing
@testable import PortcullisProxy

/// `TunnelMachine`, one transition per test, with no channel: CONNECT and SOCKS5 (a target
/// asked for) and transparent (a destination attributed, maybe claimed by the first bytes).
@Suite("Tunnel state machine")
struct TunnelMachineTests {
    static let policy = CompiledPolicy(mode: .allowlist, rules: [
        Rule(id: "rul_allow", action: .allow, host: try! HostParser.parsePattern("allowed.test")),
        Rule(id: "rul_other", action: .allow, host: try! HostParser.parsePattern("other.test")),
        Rule(id: "rul_deny", action: .deny, host: try! HostParser.parsePattern("denied.test")),
        Rule(id: "rul_api", action: .allow, host: try! HostParser.parsePattern("api.test"), methods: ["GET"]),
        Rule(id: "rul_tls", action: .allow, host: try! HostParser.parsePattern("tls.test")),
        Rule(id: "rul_ip", action: .allow, host: try! HostParser.parsePattern("127.0.0.1")),
    ], version: 5, addressGuard: AddressGuard(exemptions: [try! HostParser.parseNetwork("127.0.0.0/8")]))
    static let sandbox = SandboxContext(sandboxID: "sbx_m", tenantID: "ten_m", policy: policy)
    static let loopback = IPAddress.v4(IPv4Address(127, 0, 0, 1))
    static let hello = ByteBuffer(bytes: fixture("clienthello-sni-tls.test.bin"))
    static var settings: ProxySettings {
        var s = ProxySettings()
        s.firstBytesTimeout = .seconds(3)
        return s
    }

    static func name(_ text: String) -> DomainName { DomainName(canonical: text) }

    func machine(_ host: String, _ port: UInt16 = 443, kind: TunnelMachine.Kind = .connect,
                 answered: [String: Set<IPAddress>] = [:]) -> TunnelMachine {
        TunnelMachine(kind: kind, target: Target(host: try! HostParser.parseTarget(host), port: port, request: .opaque),
                      sandbox: Self.sandbox, record: AuditRecord(via: .connect, client: "c", time: Timestamp(milliseconds: 0)),
                      settings: Self.settings, listeners: .none, answeredAddresses: { answered[$0.text] ?? [] })
    }

    /// A CONNECT machine connected to allowed.test (or `host`), its success answered.
    func connected(_ host: String = "allowed.test", _ port: UInt16 = 443) -> TunnelMachine {
        var m = machine(host, port)
        _ = m.start()
        _ = m.resolved(.success([Self.loopback]))
        _ = m.dialled(.success(()))
        return m
    }

    // MARK: CONNECT and SOCKS5

    @Test func aRejectedTargetIsRefusedWithItsDecisionBeforeAnyDial() {
        var m = machine("denied.test")
        guard case .refuse(.rejected(let d)?) = m.start() else { Issue.record("not refused"); return }
        #expect(d.rejectedBy == "rul_deny" && m.record.event().action == .reject)
    }

    @Test func anAllowedTargetIsResolvedThenDialledThenEstablished() {
        var m = machine("allowed.test")
        #expect(m.start() == .resolve(Self.name("allowed.test")))
        #expect(m.resolved(.success([Self.loopback])) == .dial(Self.loopback, port: 443))
        #expect(m.dialled(.success(())) == .established(Self.loopback))
        #expect(m.answered)
    }

    @Test func aFailedLookupIsRefusedAsAFailure() {
        var m = machine("allowed.test")
        _ = m.start()
        guard case .refuse(.failed(.lookup)?) = m.resolved(.failure(ResolveError(timedOut: false, message: "x"))) else {
            Issue.record("not a failure"); return
        }
        #expect(m.record.event().action == .error)
    }

    @Test func aFailedDialIsRefusedAsAFailure() {
        var m = machine("allowed.test")
        _ = m.start()
        _ = m.resolved(.success([Self.loopback]))
        guard case .refuse(.failed(.dial)?) = m.dialled(.failure(DialError(timedOut: true, message: "slow"))) else {
            Issue.record("not a failure"); return
        }
    }

    @Test func bytesBeforeTheAnswerAreHeldAndArmTheDeadlineOnce() {
        var m = machine("allowed.test")
        _ = m.start()
        #expect(m.clientBytes(ByteBuffer(bytes: [22, 3])) == .armDeadline(.seconds(3)))
        #expect(m.clientBytes(ByteBuffer(bytes: [1])) == .wait)
    }

    @Test func anEmptyReadNeverArmsTheDeadline() {
        var m = connected()
        #expect(m.clientBytes(ByteBuffer()) == .wait)
    }

    @Test func aClientHelloWithTheTargetsSNIIsRelayedExactly() {
        var m = connected("tls.test")
        #expect(m.clientBytes(Self.hello) == .relay(Self.hello))
        #expect(m.isRelaying && m.record.sni == "tls.test")
    }

    @Test func aClientHelloForAnotherNameIsSNIMismatch() {
        var m = connected("allowed.test")
        #expect(m.clientBytes(Self.hello) == .refuse(nil))
        #expect(m.record.event().rejectedBy == "sni-mismatch")
    }

    @Test func aClientHelloWithoutSNIToANameIsAnSNIMismatch() {
        var m = connected("allowed.test")
        _ = m.clientBytes(ByteBuffer(bytes: fixture("clienthello-no-sni.bin")))
        let event = m.record.event()
        #expect(event.rejectedBy == "sni-mismatch" && event.reason.contains("carries no server name"))
    }

    @Test func anIPTargetIsDecidedOnTheIPWhateverTheSNI() {
        var m = machine("127.0.0.1")
        #expect(m.start() == .dial(Self.loopback, port: 443))
        _ = m.dialled(.success(()))
        #expect(m.clientBytes(Self.hello) == .relay(Self.hello))
    }

    @Test func anAlertRecordBeforeTheHelloIsRefused() {
        var m = connected("tls.test")
        var bytes = ByteBuffer(bytes: [21, 3, 3, 0, 2, 1, 0])
        var hello = Self.hello
        bytes.writeBuffer(&hello)
        #expect(m.clientBytes(bytes) == .refuse(nil))
        #expect(m.record.event().rejectedBy == "tunnel-first-bytes")
    }

    @Test func notTLSToANameOnATLSPortIsRefused() {
        var m = connected("allowed.test", 443)
        #expect(m.clientBytes(ByteBuffer(string: "SSH-2.0-x\r\n")) == .refuse(nil))
        #expect(m.record.event().rejectedBy == "tunnel-first-bytes")
    }

    @Test func anotherProtocolOnAnotherPortIsRelayed() {
        var m = connected("allowed.test", 22)
        let ssh = ByteBuffer(string: "SSH-2.0-x\r\n")
        #expect(m.clientBytes(ssh) == .relay(ssh))
    }

    @Test func plainHTTPIsHandedToInspectionWithTheTunnelsLineKept() {
        var m = connected("allowed.test", 80)
        let get = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
        guard case .inspectHTTP(get, let origin, _, keepTunnelRecord: true) = m.clientBytes(get) else {
            Issue.record("not inspected"); return
        }
        #expect(origin.host == .name(Self.name("allowed.test")))
    }

    @Test func anIncompleteFirstMessageTimesOut() {
        var m = connected()
        _ = m.clientBytes(ByteBuffer(bytes: [22, 3, 1]))
        #expect(m.deadlineFired() == .refuse(nil))
        #expect(m.record.event().reason.contains("did not complete in time"))
    }

    @Test func aClientThatSendsNothingHasNoDeadlineAndItsHalfCloseTravels() {
        var m = connected()
        #expect(m.deadlineFired() == .wait)
        #expect(m.clientInputClosed() == .relay(nil))
    }

    @Test func aHalfCloseBeforeTheAnswerWaitsForIt() {
        var m = machine("tls.test")
        _ = m.start()
        _ = m.clientBytes(Self.hello)
        #expect(m.clientInputClosed() == nil, "a complete hello is judged once connected")
        _ = m.resolved(.success([Self.loopback]))
        #expect(m.dialled(.success(())) == .established(Self.loopback))
        #expect(m.afterEstablished() == .relay(Self.hello))
    }

    @Test func closingMidMessageIsRefused() {
        var m = connected()
        _ = m.clientBytes(ByteBuffer(bytes: [22, 3, 1]))
        #expect(m.clientInputClosed() == .refuse(nil))
    }

    @Test func aPolicyChangeClosesWithPolicyChanged() {
        var m = connected("tls.test")
        _ = m.clientBytes(Self.hello)
        let now = Self.policy.decide(Target(host: .name(Self.name("denied.test")), port: 443))
        #expect(m.policyChanged(now) == .refuse(nil))
        let event = m.record.event()
        #expect(event.action == .reject && event.rejectedBy == "policy-changed" && event.ruleID == "rul_deny")
        #expect(event.reason.contains("policy version 5 rejects it"))
    }

    @Test func anOversizedFirstMessageIsRefused() {
        var m = connected("allowed.test", 80)
        #expect(m.clientBytes(ByteBuffer(string: "GE")) == .armDeadline(.seconds(3)))
        var big = ByteBuffer(bytes: [22, 3, 1, 0xFF, 0xFF])
        big.writeBytes(Array(repeating: 1, count: 20_000))
        var m2 = connected("allowed.test", 443)
        #expect(m2.clientBytes(big) == .refuse(nil))
    }

    // MARK: Transparent

    static let destination = OriginalDestination(address: loopback, port: 443)
    static let web = OriginalDestination(address: loopback, port: 80)

    @Test func transparentAllowedAttributionIsDialledAtOnce() {
        var m = machine("allowed.test", kind: .transparent(destination: Self.destination))
        #expect(m.start() == .dial(Self.loopback, port: 443))
        #expect(m.dialled(.success(())) == .established(Self.loopback))
    }

    @Test func transparentRejectedAttributionWaitsForAClaimBoundedFromAccept() {
        var m = machine("denied.test", kind: .transparent(destination: Self.destination))
        #expect(m.start() == .armDeadline(.seconds(3)))
        #expect(m.deadlineFired() == .refuse(nil))
        let event = m.record.event()
        #expect(event.rejectedBy == "rul_deny" && event.reason.contains("no client bytes named another destination"))
    }

    @Test func transparentRejectedAttributionIsOpenedByAnAllowedClaimTheDNSGatewayAnswered() {
        let other = IPAddress.v4(IPv4Address(127, 0, 0, 7))
        let destination = OriginalDestination(address: other, port: 443)
        var m = machine("127.0.0.7", kind: .transparent(destination: destination), answered: ["tls.test": [other]])
        // An IP literal with no rule: default-deny, so nothing is dialled until the bytes speak.
        #expect(m.start() == .armDeadline(.seconds(3)))
        #expect(m.clientBytes(Self.hello) == .dial(other, port: 443))
        #expect(m.dialled(.success(())) == .relay(Self.hello))
        #expect(m.record.event().host == "tls.test" && m.record.event().ruleID == "rul_tls")
    }

    @Test func transparentClaimWithoutAnAllowRuleIsRefused() {
        let other = IPAddress.v4(IPv4Address(127, 0, 0, 7))
        var m = machine("127.0.0.7", kind: .transparent(destination: OriginalDestination(address: other, port: 443)))
        _ = m.start()
        #expect(m.clientBytes(ByteBuffer(bytes: fixture("clienthello-tls12-sni-example.com.bin"))) == .refuse(nil))
        #expect(m.record.event().host == "example.com" && m.record.event().rejectedBy == "default-deny")
    }

    @Test func transparentPlainHTTPToATLSPortIsRefused() {
        var m = machine("allowed.test", kind: .transparent(destination: Self.destination))
        _ = m.start()
        _ = m.dialled(.success(()))
        #expect(m.clientBytes(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")) == .refuse(nil))
        #expect(m.record.event().rejectedBy == "tunnel-first-bytes")
    }

    @Test func transparentClaimOfAnotherNameMustResolveToTheDestination() {
        var m = machine("allowed.test", 80, kind: .transparent(destination: Self.web))
        _ = m.start()
        _ = m.dialled(.success(()))
        let get = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")
        #expect(m.clientBytes(get) == .resolve(Self.name("other.test")))
        guard case .refuse(nil) = m.resolved(.success([.v4(IPv4Address(127, 0, 0, 9))])) else { Issue.record("not refused"); return }
        #expect(m.record.event().rejectedBy == "address-mismatch")
    }

    @Test func transparentClaimThatResolvesToTheDestinationIsInspected() {
        var m = machine("allowed.test", 80, kind: .transparent(destination: Self.web))
        _ = m.start()
        _ = m.dialled(.success(()))
        let get = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")
        _ = m.clientBytes(get)
        guard case .inspectHTTP(get, let origin, _, keepTunnelRecord: false) = m.resolved(.success([Self.loopback])) else {
            Issue.record("not inspected"); return
        }
        #expect(origin.host == .name(Self.name("other.test")))
    }

    @Test func transparentRejectedClaimIsNeverResolved() {
        var m = machine("allowed.test", 80, kind: .transparent(destination: Self.web))
        _ = m.start()
        _ = m.dialled(.success(()))
        #expect(m.clientBytes(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: denied.test\r\n\r\n")) == .refuse(nil))
        #expect(m.record.event().rejectedBy == "rul_deny")
    }

    @Test func transparentBareLFHostIsStillSeen() {
        var m = machine("allowed.test", 80, kind: .transparent(destination: Self.web))
        _ = m.start()
        _ = m.dialled(.success(()))
        let sneaky = ByteBuffer(string: "GET / HTTP/1.1\nHost: denied.test\n\n")
        #expect(m.clientBytes(sneaky) == .refuse(nil))
        #expect(m.record.event().rejectedBy == "rul_deny")
    }

    @Test func transparentSeveralHostsAreHostMismatch() {
        var m = machine("allowed.test", 80, kind: .transparent(destination: Self.web))
        _ = m.start()
        _ = m.dialled(.success(()))
        _ = m.clientBytes(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: allowed.test\r\nHost : denied.test\r\n\r\n"))
        #expect(m.record.event().rejectedBy == "host-mismatch")
    }

    @Test func transparentBytesJudgedBeforeTheDialAreReleasedWhenItConnects() {
        var m = machine("allowed.test", 22, kind: .transparent(destination: OriginalDestination(address: Self.loopback, port: 22)))
        _ = m.start()
        let ssh = ByteBuffer(string: "SSH-2.0-x\r\n")
        #expect(m.clientBytes(ssh) == .wait)
        #expect(m.dialled(.success(())) == .relay(ssh))
    }
}
