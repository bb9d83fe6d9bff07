import Metrics
import MetricsTestKit
import PortcullisTestSupport
import Testing

/// One test factory for the whole process (swift-metrics bootstraps once).
enum SharedMetrics {
    static let factory: TestMetrics = {
        let f = TestMetrics()
        MetricsSystem.bootstrap(f)
        return f
    }()
}

@Suite(.serialized) struct MetricsTests {
    @Test func connectionsDecisionsBytesAndTheAuditQueueAreMeasured() async throws {
        let metrics = SharedMetrics.factory
        try await withHarness { h in
            let port = h.upstreams.plainPort
            _ = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "http://allowed.test:\(port)/m"])
            _ = try await curl(["--proxy", h.proxyURL, "--proxy-user", h.proxyUser, "http://denied.test:\(port)/m"])
            _ = try #require(await h.event { $0.host == "denied.test" })
            #expect(metrics.counterTotal(label: "portcullis_connections_total", dimensions: [("via", "http"), ("action", "allow")]) >= 1)
            #expect(metrics.counterTotal(label: "portcullis_connections_total", dimensions: [("via", "http"), ("action", "reject")]) >= 1)
            #expect(metrics.counterTotal(label: "portcullis_bytes_total", dimensions: [("direction", "down")]) > 0)
            #expect(try metrics.expectTimer("portcullis_decision_duration").values.count >= 2)
            #expect(try metrics.expectGauge("portcullis_audit_queue_depth").values.count >= 1)
            _ = try metrics.expectGauge("portcullis_open_connections")
        }
    }
}
