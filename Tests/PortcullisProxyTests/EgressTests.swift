import NIOCore
import PortcullisPolicy
import PortcullisWire
import Testing
@testable import PortcullisProxy

/// `Egress`, one transition per test: name first, then address, then dial exactly what was
/// checked; the gateway's own listeners are never dialled.
@Suite("Egress: decide, resolve, dial")
struct EgressTests {
    static let policy = CompiledPolicy(mode: .allowlist, rules: [
        Rule(id: "rul_allow", action: .allow, host: try! HostParser.parsePattern("allowed.test")),
        Rule(id: "rul_deny", action: .deny, host: try! HostParser.parsePattern("denied.test")),
        Rule(id: "rul_ip", action: .allow, host: try! HostParser.parsePattern("127.0.0.1")),
    ], version: 3, addressGuard: AddressGuard(exemptions: [try! HostParser.parseNetwork("127.0.0.0/8")]))
    static let loopback = IPAddress.v4(IPv4Address(127, 0, 0, 1))
    static let metadata = IPAddress.v4(IPv4Address(169, 254, 169, 254))
    static let listeners = GatewayListeners(listeners: [.init(address: .v4(IPv4Address(0)), port: 3128)])

    func egress(_ host: String, _ port: UInt16 = 80, listeners: GatewayListeners = .none) -> Egress {
        Egress(target: Target(host: try! HostParser.parseTarget(host), port: port), policy: Self.policy, listeners: listeners)
    }

    @Test func aRejectedNameIsNeverResolved() {
        var e = egress("denied.test")
        guard case .refused(let d) = e.start() else { Issue.record("not refused"); return }
        #expect(d.rejectedBy == "rul_deny")
    }

    @Test func anAllowedNameIsResolved() {
        var e = egress("allowed.test")
        #expect(e.start() == .resolve(DomainName(canonical: "allowed.test")))
    }

    @Test func anIPLiteralIsDialledWithoutLookup() {
        var e = egress("127.0.0.1")
        #expect(e.start() == .dial(Self.loopback, port: 80))
    }

    @Test func aFailedLookupIsAFailureNotAnAllow() {
        var e = egress("allowed.test")
        _ = e.start()
        guard case .failed(.lookup(let error), _, nil) = e.resolved(.failure(ResolveError(timedOut: true, message: "slow"))) else {
            Issue.record("not a lookup failure"); return
        }
        #expect(error.timedOut)
    }

    @Test func noAddressIsALookupFailure() {
        var e = egress("allowed.test")
        _ = e.start()
        guard case .failed(.lookup, _, _) = e.resolved(.success([])) else { Issue.record("not a failure"); return }
    }

    @Test func onlyPermittedAddressesAreDialledInOrder() {
        var e = egress("allowed.test")
        _ = e.start()
        #expect(e.resolved(.success([Self.metadata, Self.loopback])) == .dial(Self.loopback, port: 80))
    }

    @Test func everyAddressGuardedIsARefusalNamingTheGuard() {
        var e = egress("allowed.test")
        _ = e.start()
        guard case .refused(let d) = e.resolved(.success([Self.metadata])) else { Issue.record("not refused"); return }
        #expect(d.rejectedBy?.hasPrefix("guard:") == true)
    }

    @Test func theGatewaysOwnListenerIsRefusedWhateverTheRules() {
        var e = egress("127.0.0.1", 3128, listeners: Self.listeners)
        guard case .refused(let d) = e.start() else { Issue.record("not refused"); return }
        #expect(d.rejectedBy == "guard:gateway-listener")
        var named = egress("allowed.test", 3128, listeners: Self.listeners)
        _ = named.start()
        guard case .refused(let n) = named.resolved(.success([Self.loopback])) else { Issue.record("not refused"); return }
        #expect(n.rejectedBy == "guard:gateway-listener")
        var otherPort = egress("allowed.test", 8080, listeners: Self.listeners)
        _ = otherPort.start()
        #expect(otherPort.resolved(.success([Self.loopback])) == .dial(Self.loopback, port: 8080))
    }

    @Test func aFailedDialTriesTheNextPermittedAddress() {
        let second = IPAddress.v4(IPv4Address(127, 0, 0, 2))
        var e = egress("allowed.test")
        _ = e.start()
        _ = e.resolved(.success([Self.loopback, second]))
        #expect(e.dialled(.failure(DialError(timedOut: false, message: "refused"))) == .dial(second, port: 80))
        guard case .failed(.dial, _, second?) = e.dialled(.failure(DialError(timedOut: false, message: "refused"))) else {
            Issue.record("not a dial failure"); return
        }
    }

    @Test func aSuccessfulDialIsConnectedWithTheAddressDecision() {
        var e = egress("allowed.test")
        _ = e.start()
        _ = e.resolved(.success([Self.loopback]))
        guard case .connected(Self.loopback, let d) = e.dialled(.success(())) else { Issue.record("not connected"); return }
        #expect(d.ruleID == "rul_allow" && d.policyVersion == 3)
    }

    @Test func theListenerGuardCoversTheUnspecifiedAddressAndLocalOnes() {
        let book = GatewayListeners(listeners: [.init(address: .v4(IPv4Address(127, 0, 0, 1)), port: 8080),
                                                .init(address: .v4(IPv4Address(0)), port: 3128)],
                                    localAddresses: [.v4(IPv4Address(192, 0, 2, 7))])
        #expect(book.covers(.v4(IPv4Address(127, 0, 0, 1)), port: 8080))
        #expect(book.covers(.v4(IPv4Address(0)), port: 8080))
        #expect(!book.covers(.v4(IPv4Address(127, 0, 0, 2)), port: 8080))
        #expect(book.covers(.v4(IPv4Address(127, 0, 0, 9)), port: 3128))
        #expect(book.covers(.v4(IPv4Address(192, 0, 2, 7)), port: 3128))
        #expect(!book.covers(.v4(IPv4Address(192, 0, 2, 8)), port: 3128))
        #expect(!book.covers(.v4(IPv4Address(127, 0, 0, 1)), port: 443))
    }
}
