import Foundation
import NIOCore
@testable import PortcullisDNS
@testable import PortcullisGateway
import PortcullisModel
import PortcullisPolicy
import PortcullisTestSupport
import Testing

/// A service on the gateway's host (004's last recipe: Ollama on localhost:11434), through
/// the running gateway with the shipped address guard (loopback not exempted): an allow rule
/// for `localhost:PORT` reaches a test server on 127.0.0.1:PORT as `localhost` and as
/// `host.portcullis.internal` over forward HTTP, CONNECT and SOCKS5; another server on
/// 127.0.0.1 and the gateway's own listeners are refused by the guard.
@Suite(.serialized) struct GatewayHostIntegrationTests {
    static let auth = "Proxy-Authorization: Basic " + Data("\(Fixtures.sandboxID):\(Fixtures.token)".utf8).base64EncodedString() + "\r\n"

    /// Runs `body` with a host service (`Upstreams`: plain HTTP on one loopback port, TLS on
    /// another) and a gateway whose sandbox allows `localhost:<plain port>` only (plus any
    /// `extra` rules once the listeners' ports are known).
    func withHostService(_ body: (Harness, Upstreams) async throws -> Void) async throws {
        let service = try await Upstreams()
        let rules = [Rule(id: "rul_ollama", action: .allow, host: .exact(GatewayHost.localhost), port: UInt16(service.plainPort))]
        let snapshot = GatewaySnapshot(version: 1, sandboxes: [
            Fixtures.sandboxID: SandboxPolicy(sandboxID: Fixtures.sandboxID, tenantID: Fixtures.tenantID, proxyToken: Fixtures.token,
                                              policy: CompiledPolicy(mode: .allowlist, rules: rules, version: 1)),
        ], bySourceAddress: [.v4(IPv4Address(127, 0, 0, 2)): Fixtures.sandboxID])
        do {
            try await withHarness(snapshot: snapshot, configure: { $0.dnsBind = try? SocketAddress(ipAddress: "127.0.0.1", port: 0) }) { h in
                try await body(h, service)
            }
        } catch {
            await service.shutdown()
            throw error
        }
        await service.shutdown()
    }

    @Test func bothNamesReachTheAllowedPortThroughTheForwardProxyCONNECTAndSOCKS5() async throws {
        try await withHostService { h, service in
            let port = service.plainPort
            for host in ["localhost", "host.portcullis.internal"] {
                let url = "http://\(host):\(port)/api/tags"
                for (via, args) in [(AuditVia.http, ["-x", h.proxyURL, "--proxy-user", h.proxyUser, url]),
                                    (.connect, ["-p", "-x", h.proxyURL, "--proxy-user", h.proxyUser, url]),
                                    (.socks5, ["--socks5-hostname", "127.0.0.1:\(h.socksPort)", "--proxy-user", h.proxyUser, url])] {
                    let r = try await curl(["-sS", "--max-time", "5"] + args)
                    #expect(r.status == 0 && r.stdout.hasPrefix("upstream plain GET /api/tags"), "\(host) via \(via): \(r.stderr)")
                    let e = try #require(await h.event { $0.via == via && $0.host == host && $0.action == .allow })
                    #expect(e.address == "127.0.0.1" && e.ruleID == "rul_ollama" && e.port == port, "\(e)")
                }
            }
            #expect(service.received.requests.count == 6)
            #expect(!h.audit.all.contains { $0.action == .reject || $0.action == .error }, "\(h.audit.all.map(\.reason))")
        }
    }

    @Test func anotherPortOnTheHostIsRefusedByTheGuardOnEveryPath() async throws {
        try await withHostService { h, service in
            let other = service.tlsPort
            for host in ["localhost", "host.portcullis.internal"] {
                let forward = try await RawClient.exchange(port: h.httpPort, [
                    "GET http://\(host):\(other)/ HTTP/1.1\r\nHost: \(host):\(other)\r\n\(Self.auth)Connection: close\r\n\r\n".bytes])
                #expect(forward.hasPrefix("HTTP/1.1 403") && forward.contains("guard:127.0.0.0/8"), "\(forward)")
                let connect = try await RawClient.exchange(port: h.httpPort, ["CONNECT \(host):\(other) HTTP/1.1\r\n\(Self.auth)\r\n".bytes])
                #expect(connect.hasPrefix("HTTP/1.1 403") && connect.contains("guard:127.0.0.0/8"), "\(connect)")
                let socks = try await RawClient.exchangeBytes(port: h.socksPort, [socksHello() + socksRequest(domain: host, port: other)])
                #expect(Array(socks.prefix(4)) == [5, 2, 1, 0] && socks.count > 5 && socks[5] == 0x02, "SOCKS 0x02, not allowed: \(socks)")
            }
            let refusals = await h.events(count: 6) { $0.rejectedBy == "guard:127.0.0.0/8" && $0.port == other }
            #expect(refusals.count == 6 && refusals.allSatisfy { !$0.joinsPending }, "\(refusals)")
            #expect(service.tlsReceived.raw.isEmpty, "nothing reached the other service")
            // The address, not the name, is what a rule for the name does not open.
            let literal = try await RawClient.exchange(port: h.httpPort, ["CONNECT 127.0.0.1:\(service.plainPort) HTTP/1.1\r\n\(Self.auth)\r\n".bytes])
            #expect(literal.hasPrefix("HTTP/1.1 403") && literal.contains("guard:127.0.0.0/8"), "\(literal)")
        }
    }

    @Test func theGatewaysOwnListenersStayRefusedEvenWhenARuleNamesTheirPorts() async throws {
        try await withHostService { h, service in
            let dnsPort = try #require(h.gateway.bound?.dns?.port)
            let listeners = [h.httpPort, h.socksPort, dnsPort]
            var snapshot = h.gateway.registry.snapshot
            let rules = snapshot.sandboxes[Fixtures.sandboxID]!.policy.rules + listeners.map {
                Rule(id: "rul_listener_\($0)", action: .allow, host: .exact(GatewayHost.internalName), port: UInt16($0))
            }
            snapshot = GatewaySnapshot(version: 2, sandboxes: [
                Fixtures.sandboxID: SandboxPolicy(sandboxID: Fixtures.sandboxID, tenantID: Fixtures.tenantID, proxyToken: Fixtures.token,
                                                  policy: CompiledPolicy(mode: .allowlist, rules: rules, version: 2)),
            ], bySourceAddress: snapshot.bySourceAddress)
            _ = h.gateway.registry.update(snapshot)
            for port in listeners {
                for host in ["localhost", "host.portcullis.internal"] {
                    let connect = try await RawClient.exchange(port: h.httpPort, ["CONNECT \(host):\(port) HTTP/1.1\r\n\(Self.auth)\r\n".bytes])
                    #expect(connect.hasPrefix("HTTP/1.1 403") && connect.contains("guard:gateway-listener"), "\(host):\(port) \(connect)")
                }
                let socks = try await RawClient.exchangeBytes(port: h.socksPort, [socksHello() + socksRequest(domain: "localhost", port: port)])
                #expect(socks.count > 5 && socks[5] == 0x02, "SOCKS to listener \(port): \(socks)")
            }
            let metrics = try await RawClient.exchange(port: h.httpPort, [
                "GET http://localhost:\(h.socksPort)/metrics HTTP/1.1\r\nHost: localhost:\(h.socksPort)\r\n\(Self.auth)Connection: close\r\n\r\n".bytes])
            #expect(metrics.hasPrefix("HTTP/1.1 403") && metrics.contains("guard:gateway-listener"), "\(metrics)")
            // The allowed service still works beside them.
            let ok = try await curl(["-sS", "--max-time", "5", "-x", h.proxyURL, "--proxy-user", h.proxyUser,
                                     "http://localhost:\(service.plainPort)/still"])
            #expect(ok.status == 0 && ok.stdout.hasPrefix("upstream plain GET /still"), "\(ok.stderr)")
        }
    }

    @Test func theDNSGatewayAnswersHostPortcullisInternalWithTheHostsAddressFacingTheSandbox() async throws {
        try await withHostService { h, _ in
            let port = try #require(h.gateway.bound?.dns?.port)
            // The sandbox is 127.0.0.2; the host reaches it from 127.0.0.1 (the kernel's route),
            // so that is the answer, not the address the query came from.
            let query = DNSMessage(header: DNSHeader(id: 7), questions: [DNSQuestion(name: DNSName("host.portcullis.internal")!, type: .a)])
            let answer = try #require(try await DNSTestClient.udp(query, port: port, source: "127.0.0.2"))
            #expect(answer.header.responseCode == .noError)
            #expect(answer.answers.compactMap(\.address) == [.v4(IPv4Address(127, 0, 0, 1))])
            let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
            #expect(h.gateway.answers.addresses(for: GatewayHost.internalName, sandboxID: Fixtures.sandboxID, now: now)
                == [.v4(IPv4Address(127, 0, 0, 1))], "remembered, so the transparent listener can attribute it")
            let aaaa = DNSMessage(header: DNSHeader(id: 8), questions: [DNSQuestion(name: DNSName("host.portcullis.internal")!, type: .aaaa)])
            let none = try #require(try await DNSTestClient.udp(aaaa, port: port, source: "127.0.0.2"))
            #expect(none.header.responseCode == .noError && none.answers.isEmpty)
            let event = try #require(await h.event { $0.via == .dns && $0.host == "host.portcullis.internal" })
            #expect(event.action == .allow && event.ruleID == "rul_ollama")
        }
    }

    @Test func localRouteFindsTheHostsAddressFacingAPeer() {
        #expect(LocalRoute.address(facing: .v4(IPv4Address(127, 0, 0, 1))) == .v4(IPv4Address(127, 0, 0, 1)))
        #expect(LocalRoute.address(facing: .v4(IPv4Address(127, 3, 2, 1))) == .v4(IPv4Address(127, 0, 0, 1)))
    }
}
