import NIOCore
import PortcullisAudit
import PortcullisPolicy
import PortcullisWire
import Testing
@testable import PortcullisProxy

/// The gateway's host in the data plane's two machines: `Egress` dials `localhost` and
/// `host.portcullis.internal` as 127.0.0.1 without a lookup; the transparent `TunnelMachine`
/// dials the host end of a sandbox's link as 127.0.0.1 when the DNS gateway handed it out
/// for `host.portcullis.internal`. Only the ports allow rules name, never the listeners.
@Suite("The gateway's host: Egress and the transparent machine")
struct GatewayHostPathTests {
    static let policy = CompiledPolicy(mode: .allowlist, rules: [
        Rule(id: "rul_ollama", action: .allow, host: try! HostParser.parsePattern("localhost"), port: 11434),
        Rule(id: "rul_proxy", action: .allow, host: try! HostParser.parsePattern("localhost"), port: 3128),
        Rule(id: "rul_allow", action: .allow, host: try! HostParser.parsePattern("allowed.test")),
    ], version: 4)
    static let sandbox = SandboxContext(sandboxID: "sbx_h", tenantID: "ten_h", policy: policy)
    static let loopback = IPAddress.v4(IPv4Address(127, 0, 0, 1))
    /// The host end of a `portcullis run` link, as the DNS gateway answers it.
    static let hostEnd = IPAddress.v4(IPv4Address(100, 120, 0, 1))
    /// The proxy listens on the wildcard address, port 3128.
    static let listeners = GatewayListeners(listeners: [.init(address: .v4(IPv4Address(0)), port: 3128)])

    func egress(_ host: String, _ port: UInt16) -> Egress {
        Egress(target: Target(host: try! HostParser.parseTarget(host), port: port), policy: Self.policy, listeners: Self.listeners)
    }

    /// The same rules with the run pool's range exempted from the guard (as `--guard-exempt
    /// 100.64.0.0/10` would), so that the host end is not refused by the guard on its own.
    static let exempt = SandboxContext(sandboxID: "sbx_h", tenantID: "ten_h", policy: CompiledPolicy(
        mode: .allowlist, rules: GatewayHostPathTests.policy.rules, version: 4, addressGuard: AddressGuard(exemptions: [try! HostParser.parseNetwork("100.64.0.0/10")])))

    func transparent(_ host: String, _ port: UInt16, answered: [String: Set<IPAddress>] = [:],
                     sandbox: SandboxContext? = nil) -> TunnelMachine {
        let destination = OriginalDestination(address: Self.hostEnd, port: port)
        return TunnelMachine(kind: .transparent(destination: destination),
                             target: Target(host: try! HostParser.parseTarget(host), port: port, request: .opaque),
                             sandbox: sandbox ?? Self.sandbox, record: AuditRecord(via: .transparent, client: "c", time: Timestamp(milliseconds: 0)),
                             settings: ProxySettings(), listeners: Self.listeners,
                             answeredAddresses: { answered[$0.text] ?? [] })
    }

    // MARK: Egress (forward proxy, CONNECT, SOCKS5)

    @Test func bothNamesOfTheGatewaysHostAreDialledAsItsLoopbackWithoutALookup() {
        for host in ["localhost", "host.portcullis.internal"] {
            var e = egress(host, 11434)
            #expect(e.start() == .dial(Self.loopback, port: 11434), "\(host)")
            guard case .connected(Self.loopback, let d) = e.dialled(.success(())) else { Issue.record("not connected"); return }
            #expect(d.ruleID == "rul_ollama" && d.host.description == host, "the name as asked")
        }
    }

    @Test func anotherPortOfTheGatewaysHostIsRefusedByTheGuard() {
        var e = egress("host.portcullis.internal", 22)
        guard case .refused(let d) = e.start() else { Issue.record("not refused"); return }
        #expect(d.rejectedBy == "guard:127.0.0.0/8")
    }

    @Test func theGatewaysOwnListenerIsRefusedEvenWithARuleForItsPort() {
        var e = egress("localhost", 3128)
        guard case .refused(let d) = e.start() else { Issue.record("not refused"); return }
        #expect(d.rejectedBy == "guard:gateway-listener")
    }

    // MARK: Transparent

    @Test func theHostEndTheDNSGatewayHandedOutIsDialledAsTheLoopback() {
        var m = transparent("host.portcullis.internal", 11434, answered: ["host.portcullis.internal": [Self.hostEnd]])
        #expect(m.start() == .dial(Self.loopback, port: 11434))
        #expect(m.dialled(.success(())) == .established(Self.loopback))
        let event = m.record.event()
        #expect(event.host == "host.portcullis.internal" && event.address == "127.0.0.1" && event.ruleID == "rul_ollama")
    }

    @Test func anotherPortOfTheHostEndIsRejectedByTheGuard() {
        var m = transparent("host.portcullis.internal", 22, answered: ["host.portcullis.internal": [Self.hostEnd]])
        #expect(m.start() == .armDeadline(.seconds(3)), "nothing dialled")
        #expect(m.deadlineFired() == .refuse(nil))
        #expect(m.record.event().rejectedBy == "guard:127.0.0.0/8")
    }

    @Test func theListenersPortOnTheHostEndIsRefusedWhateverTheRules() {
        var m = transparent("host.portcullis.internal", 3128, answered: ["host.portcullis.internal": [Self.hostEnd]])
        #expect(m.start() == .armDeadline(.seconds(3)))
        _ = m.deadlineFired()
        #expect(m.record.event().rejectedBy == "guard:gateway-listener")
    }

    @Test func theHostEndWithoutTheDNSGatewaysAnswerIsJustAGuardedAddress() {
        var m = transparent("100.120.0.1", 11434)
        #expect(m.start() == .armDeadline(.seconds(3)))
        let get = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: host.portcullis.internal:11434\r\n\r\n")
        // The claim names the gateway's host, but nothing says this address is its: decided on the address.
        #expect(m.clientBytes(get) == .refuse(nil))
        #expect(m.record.event().rejectedBy == "guard:100.64.0.0/10")
        // With that range exempted, the claim must still resolve to the address, which it does not.
        var exempt = transparent("100.120.0.1", 11434, sandbox: Self.exempt)
        _ = exempt.start()
        #expect(exempt.clientBytes(get) == .resolve(GatewayHost.internalName))
        guard case .refuse(nil) = exempt.resolved(.success([Self.loopback])) else { Issue.record("not refused"); return }
        #expect(exempt.record.event().rejectedBy == "address-mismatch")
    }

    @Test func aClaimOfTheGatewaysHostOnAConnectionDialledForAnotherNameIsRefused() {
        var m = transparent("allowed.test", 11434, answered: ["allowed.test": [Self.hostEnd], "host.portcullis.internal": [Self.hostEnd]],
                            sandbox: Self.exempt)
        #expect(m.start() == .dial(Self.hostEnd, port: 11434), "allowed.test is dialled where it resolved")
        _ = m.dialled(.success(()))
        let get = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: host.portcullis.internal:11434\r\n\r\n")
        #expect(m.clientBytes(get) == .refuse(nil))
        #expect(m.record.event().rejectedBy == "address-mismatch")
    }
}
