import Foundation
import PortcullisAPI
@testable import PortcullisCLI
import Testing

/// The CLI's side of issue 15: serve's API-listener and --claimable flags, the Lock Down
/// checkboxes for hosts already allowed, and tenant rules marked not removable under a sandbox.
@Suite("CLI: control-plane options, lockdown checkboxes, policy ls")
struct ControlPlaneOptionsTests {
    @Test("the API listener's bounds and --claimable come from flags or PORTCULLIS_ variables, validated")
    func serveFlags() throws {
        let defaults = try ServeCommand.parse([]).configuration(environment: [:])
        #expect(defaults.apiLimits.headTimeout == .seconds(10) && defaults.apiLimits.idleTimeout == .seconds(60))
        #expect(defaults.apiLimits.maxConnections == 512 && defaults.apiLimits.maxStreamsPerKey == 8)
        #expect(defaults.claimable.isEmpty)
        let flags = try ServeCommand.parse(["--api-head-timeout", "3", "--api-idle-timeout", "20", "--api-max-connections", "64",
                                            "--api-max-streams-per-key", "2", "--claimable", "127.0.0.0/8", "--claimable", "::1/128"])
            .configuration(environment: ["PORTCULLIS_API_MAX_CONNECTIONS": "9"])
        #expect(flags.apiLimits.headTimeout == .seconds(3) && flags.apiLimits.idleTimeout == .seconds(20))
        #expect(flags.apiLimits.maxConnections == 64 && flags.apiLimits.maxStreamsPerKey == 2)
        #expect(flags.claimable.map(\.description) == ["127.0.0.0/8", "::1/128"])
        let env = try ServeCommand.parse([]).configuration(environment: [
            "PORTCULLIS_API_HEAD_TIMEOUT": "4", "PORTCULLIS_API_IDLE_TIMEOUT": "5", "PORTCULLIS_API_MAX_CONNECTIONS": "6",
            "PORTCULLIS_API_MAX_STREAMS_PER_KEY": "7", "PORTCULLIS_CLAIMABLE": "127.0.0.0/8, 10.0.0.0/8",
        ])
        #expect(env.apiLimits.headTimeout == .seconds(4) && env.apiLimits.idleTimeout == .seconds(5))
        #expect(env.apiLimits.maxConnections == 6 && env.apiLimits.maxStreamsPerKey == 7)
        #expect(env.claimable.map(\.description) == ["127.0.0.0/8", "10.0.0.0/8"])
        for args in [["--api-head-timeout", "0"], ["--api-idle-timeout", "x"], ["--api-max-connections", "0"],
                     ["--api-max-streams-per-key", "100000"], ["--claimable", "127.0.0.1/8"], ["--claimable", "nowhere"]] {
            #expect(throws: InputError.self, "\(args)") { _ = try ServeCommand.parse(args).configuration(environment: [:]) }
        }
        do {
            _ = try ServeCommand.parse(["--api-head-timeout", "0"]).configuration(environment: [:])
        } catch let e as InputError {
            #expect(e.message == #"--api-head-timeout must be a number of seconds from 1 to 3600, not "0""#)
        }
    }

    static func suggestion(_ host: String, _ recommendation: Components.Schemas.Suggestion.recommendationPayload, allowedBy: String? = nil)
        -> Components.Schemas.Suggestion {
        .init(host: host, ports: [443], count: 3, recommendation: recommendation, reason: "why", allowed_by: allowedBy)
    }

    @Test("a host already allowed is shown as such, starts unchecked and cannot be checked")
    func checkboxes() {
        let items = [Self.suggestion("api.x.test", .keep, allowedBy: "rul_1"), Self.suggestion("pypi.test", .keep),
                     Self.suggestion("169.254.169.254", .deny)]
        var checked = Checkboxes.initial(items)
        #expect(checked == [false, true, false])
        let lines = Checkboxes.lines(items, checked: checked)
        #expect(lines[0] == " 1. [=] api.x.test  3 requests  already allowed by rul_1")
        #expect(lines[1] == " 2. [x] pypi.test  3 requests  keep: why")
        #expect(lines[2] == " 3. [ ] 169.254.169.254  3 requests  deny: why")
        Checkboxes.toggle("1, 3", items: items, checked: &checked)
        #expect(checked == [false, true, true])
    }

    @Test("under a sandbox, a tenant rule is not removable there and says how it is removed")
    func tenantRuleRows() {
        let date = Date(timeIntervalSince1970: 0)
        let rule = Components.Schemas.Rule(id: "rul_t", action: .deny, host: "evil.test", port: nil, _protocol: .any, methods: nil, paths: nil,
                                           warn_only: false, except: [], note: nil, source: "tenant", created_at: date)
        #expect(PolicyCommand.rows([rule], underSandbox: true).first?.last == "no (tenant-wide: policy rm network --id rul_t --tenant)")
        #expect(PolicyCommand.rows([rule], underSandbox: false).first?.last == "yes")
    }
}
