@testable import PortcullisGateway
import PortcullisPolicy
@testable import PortcullisProxy
import Synchronization
import Testing

/// The live set and policy changes, without sockets: a connection decided under an older
/// policy than the one in force when it is tracked is re-decided there.
@Suite struct PolicyRegistryTests {
    final class Closed: Sendable {
        let reasons = Mutex<[String]>([])
        var list: [String] { reasons.withLock { $0 } }
    }

    static func connection(decidedUnder version: UInt64, closed: Closed) -> LiveConnection {
        let target = Target(host: try! HostParser.parseTarget("allowed.test"), port: 443)
        return LiveConnection(sandboxID: Fixtures.sandboxID, target: target, address: nil, isTunnel: true,
                              decidedUnder: version) { decision in
            closed.reasons.withLock { $0.append(decision.rejectedBy ?? "?") }
        }
    }

    static let blocked = Fixtures.snapshot(version: 2, rules: [Fixtures.rule("rul_block", .deny, "allowed.test")] + Fixtures.rules)

    @Test func aConnectionTrackedAfterTheChangeThatRejectsItIsClosedAtOnce() {
        let registry = PolicyRegistry(Fixtures.snapshot(version: 1))
        let closed = Closed()
        let live = Self.connection(decidedUnder: 1, closed: closed)
        // The change lands while the connection is still dialling: update sees nothing to close.
        #expect(registry.update(Self.blocked) == 0)
        registry.track(live)
        #expect(closed.list == ["rul_block"])
        #expect(registry.liveCount == 0 && registry.tunnelCount == 0)
    }

    @Test func aConnectionDecidedUnderThePolicyInForceStaysAndIsClosedOnceByTheNextChange() {
        let registry = PolicyRegistry(Fixtures.snapshot(version: 1))
        let closed = Closed()
        let live = Self.connection(decidedUnder: 1, closed: closed)
        registry.track(live)
        #expect(registry.tunnelCount == 1 && closed.list.isEmpty)
        #expect(registry.update(Self.blocked) == 1)
        #expect(registry.update(Self.blocked) == 0)
        #expect(closed.list == ["rul_block"], "closed once, not once per update")
        #expect(registry.liveCount == 0 && registry.tunnelCount == 0)
    }

    @Test func aConnectionStillAllowedByANewerPolicyIsKept() {
        let registry = PolicyRegistry(Fixtures.snapshot(version: 1))
        let closed = Closed()
        #expect(registry.update(Fixtures.snapshot(version: 2)) == 0)
        registry.track(Self.connection(decidedUnder: 1, closed: closed))
        #expect(registry.tunnelCount == 1 && closed.list.isEmpty)
    }
}

/// Scrubbing plans are computed when a snapshot is swapped in, never per request, and
/// always travel with the snapshot they were computed from.
@Suite struct ScrubPlanRegistryTests {
    static func binding(secret: String) -> CredentialBinding {
        CredentialBinding(name: "key", placeholder: "pcx_" + String(repeating: "a", count: 32),
                          host: .exact(DomainName(canonical: "api.test")), placement: .header(name: "Authorization", format: "Bearer {secret}"),
                          secret: secret)
    }

    @Test func aPlanFollowsEachSnapshotAndARotatedSecretIsScrubbedAtOnce() {
        let registry = PolicyRegistry(Fixtures.snapshot(version: 1))
        #expect(registry.snapshotAndPlans.plans.isEmpty, "no credentials, no plan")

        registry.update(Fixtures.snapshot(version: 2, credentials: [Self.binding(secret: "first-secret-value")]))
        var (snapshot, plans) = registry.snapshotAndPlans
        #expect(snapshot.version == 2)
        #expect(plans[Fixtures.sandboxID]?.scrubbed("echo first-secret-value", for: ["key"])
                == "echo pcx_" + String(repeating: "a", count: 32))

        // Rotated: the next snapshot's plan scrubs the new secret, not the old one.
        registry.update(Fixtures.snapshot(version: 3, credentials: [Self.binding(secret: "second-secret-value")]))
        (snapshot, plans) = registry.snapshotAndPlans
        #expect(snapshot.version == 3)
        #expect(plans[Fixtures.sandboxID]?.scrubbed("second-secret-value", for: ["key"]).hasPrefix("pcx_") == true)
        #expect(plans[Fixtures.sandboxID]?.scrubbed("first-secret-value", for: ["key"]) == "first-secret-value")
        // And injects the new one (the header value is rendered with the plan, not per request).
        // (Asked with the old binding, same placeholder: the value is the plan's, rotated.)
        #expect(plans[Fixtures.sandboxID]?.injected(for: Self.binding(secret: "first-secret-value")) == "Bearer second-secret-value")

        // Detached: no plan.
        registry.update(Fixtures.snapshot(version: 4))
        #expect(registry.snapshotAndPlans.plans.isEmpty)
    }
}
