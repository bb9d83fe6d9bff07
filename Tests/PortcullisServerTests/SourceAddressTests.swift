import Foundation
import PortcullisControl
import PortcullisModel
import PortcullisPolicy
import PortcullisStore
import Synchronization
import Testing

/// Who may claim what as a sandbox's source address (docs/api.md, "Source addresses").
@Suite("API: source addresses")
struct SourceAddressTests {
    /// The gateway's own addresses in these tests: a listener's and an interface's.
    static let own = SourceAddressPolicy(ownAddresses: { [.v4(IPv4Address(192, 0, 2, 1)), .v4(IPv4Address(10, 9, 8, 7))] })

    @Test("unspecified, loopback, multicast, broadcast and the gateway's own addresses are refused with 400", arguments: [
        ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("0", "unspecified"), ("0.1.2.3", "unspecified"),
        ("127.0.0.1", "loopback"), ("127.0.0.5", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("2130706433", "loopback"),
        ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"), ("255.255.255.255", "broadcast"),
        ("192.0.2.1", "the gateway's own"), ("10.9.8.7", "the gateway's own"),
    ])
    func refused(address: String, what: String) async throws {
        try await withAPI(sourceAddresses: Self.own) { api in
            let id = try await api.sandbox()
            let patch = try await api.admin(.patch, "/api/v1/sandboxes/\(id)", json: #"{"source_addresses": ["100.120.0.2", "\#(address)"]}"#)
            #expect(patch.status == 400, "\(patch.text)")
            #expect(patch.error?.hasPrefix("source_addresses[1]: ") == true, "\(patch.text)")
            #expect(patch.error?.contains(what) == true, "\(patch.text)")
            let create = try await api.admin(.post, "/api/v1/sandboxes", json: #"{"source_addresses": ["\#(address)"]}"#)
            #expect(create.status == 400, "\(create.text)")
            #expect(try await api.admin(.get, "/api/v1/sandboxes/\(id)").json["source_addresses"] as? [String] == [])
            #expect(try await api.admin(.get, "/api/v1/sandboxes").items.count == 1)
        }
    }

    @Test("addresses of a sandbox's own (what portcullis run registers) are claimable, and identify it")
    func claimable() async throws {
        let published = Mutex<GatewaySnapshot?>(nil)
        try await withAPI(sourceAddresses: Self.own, publish: { s in published.withLock { $0 = s } }) { api in
            let id = try await api.sandbox()
            let r = try await api.admin(.patch, "/api/v1/sandboxes/\(id)", json: #"{"source_addresses": ["100.120.0.2", "fd00::2", "192.0.2.200"]}"#)
            #expect(r.status == 200, "\(r.text)")
            #expect(r.json["source_addresses"] as? [String] == ["100.120.0.2", "fd00::2", "192.0.2.200"])
            let map = try #require(published.withLock { $0 }).bySourceAddress
            #expect(map[.v4(IPv4Address(100, 120, 0, 2))] == id)
        }
    }

    @Test("serve --claimable lets loopback and own addresses inside it be claimed; never unspecified or multicast")
    func claimableRanges() async throws {
        let policy = SourceAddressPolicy(claimable: [try HostParser.parseNetwork("127.0.0.0/8"), try HostParser.parseNetwork("192.0.2.0/24"),
                                                     try HostParser.parseNetwork("0.0.0.0/0")],
                                         ownAddresses: { [.v4(IPv4Address(192, 0, 2, 1)), .v4(IPv4Address(10, 9, 8, 7))] })
        try await withAPI(sourceAddresses: policy) { api in
            let id = try await api.sandbox()
            let ok = try await api.admin(.patch, "/api/v1/sandboxes/\(id)", json: #"{"source_addresses": ["127.0.0.1", "192.0.2.1", "10.9.8.7"]}"#)
            #expect(ok.status == 200, "\(ok.text)")
            for never in ["0.0.0.0", "224.0.0.1", "255.255.255.255"] {
                let r = try await api.admin(.patch, "/api/v1/sandboxes/\(id)", json: #"{"source_addresses": ["\#(never)"]}"#)
                #expect(r.status == 400, "\(never): \(r.text)")
            }
            let nope = try await api.admin(.patch, "/api/v1/sandboxes/\(id)", json: #"{"source_addresses": ["::1"]}"#)
            #expect(nope.status == 400, "::1 is outside the claimable ranges: \(nope.text)")
        }
    }

    @Test("an address stored before it became unclaimable identifies nobody (fail closed), and is reported")
    func storedBeforeUpgrade() async throws {
        let store = InMemoryStore()
        let t = Timestamp(milliseconds: 1)
        try await store.createTenant(TenantRecord(id: ControlPlane.defaultTenantID, name: "default", createdAt: t, updatedAt: t))
        try await store.createSandbox(SandboxRecord(id: "sbx_old", tenantID: ControlPlane.defaultTenantID, name: nil, ownMode: nil, profiles: [],
                                                    sourceAddresses: ["127.0.0.1", "100.120.0.6"], proxyToken: "pxt_x", createdAt: t, updatedAt: t),
                                      rules: [])
        let published = Mutex<GatewaySnapshot?>(nil)
        let control = ControlPlane(store: store, now: { t }, publish: { s in published.withLock { $0 = s } })
        try await control.start()
        let map = try #require(published.withLock { $0 }).bySourceAddress
        #expect(map == [.v4(IPv4Address(100, 120, 0, 6)): "sbx_old"])
        let reported = await control.unclaimableAddresses()
        #expect(reported.map(\.sandboxID) == ["sbx_old"] && reported.map(\.address) == ["127.0.0.1"])
    }

    @Test("another tenant's address is 409 without naming its sandbox; the caller's own sandbox is named")
    func conflicts() async throws {
        try await withAPI { api in
            let other = try await api.otherTenantKey()
            let theirs = try await api.sandbox(#"{"source_addresses": ["100.64.0.9"]}"#, key: other)
            let mine = try await api.sandbox(#"{"source_addresses": ["100.64.0.10"]}"#)
            let second = try await api.sandbox()
            let r = try await api.admin(.patch, "/api/v1/sandboxes/\(second)", json: #"{"source_addresses": ["100.64.0.9"]}"#)
            #expect(r.status == 409)
            #expect(r.error == "address 100.64.0.9 is already claimed by a sandbox of another tenant")
            #expect(!r.text.contains(theirs))
            let c = try await api.admin(.post, "/api/v1/sandboxes", json: #"{"source_addresses": ["100.64.0.9"]}"#)
            #expect(c.status == 409 && !c.text.contains(theirs), "\(c.text)")
            let same = try await api.admin(.patch, "/api/v1/sandboxes/\(second)", json: #"{"source_addresses": ["100.64.0.10"]}"#)
            #expect(same.status == 409)
            #expect(same.error == "address 100.64.0.10 already belongs to sandbox \(mine)")
        }
    }
}
