import ArgumentParser
@testable import PortcullisCLI
import Testing

/// Every command parses the lines the docs show, and refuses malformed ones.
@Suite("CLI argument parsing")
struct ArgumentParsingTests {
    static let accepted: [[String]] = [
        ["serve"], ["serve", "--data-dir", "/tmp/x", "--api", "127.0.0.1:0", "--guard-exempt", "10.0.0.0/8", "--guard-exempt", "fd00::/8"],
        ["check", "--policy", "p.json", "example.com:443"],
        ["login", "--url", "http://127.0.0.1:8080", "--token", "k"],
        ["sandbox", "create", "--name", "a", "--allow", "pypi.org", "--deny", "0.0.0.0/0", "--profile", "openai", "--env"],
        ["sandbox", "create", "--template", "python-ds"], ["sandbox", "create", "--clone-from", "sbx_1", "--json"],
        ["sandbox", "ls"], ["sandbox", "show", "sbx_1", "--env"], ["sandbox", "rm", "sbx_1"],
        ["policy", "ls"], ["policy", "ls", "sbx_1"],
        ["policy", "allow", "network", "api.openai.com:443", "--sandbox", "sbx_1", "--warn-only", "--methods", "POST,GET"],
        ["policy", "allow", "network", "registry.npmjs.org", "--tenant"],
        ["policy", "deny", "network", "*.corp.example", "--sandbox", "sbx_1", "--except", "jira.corp.example"],
        ["policy", "rm", "network", "--id", "rul_1"], ["policy", "log", "sbx_1"],
        ["lockdown", "sbx_1", "--from-suggestions", "7d"], ["lockdown", "sbx_1", "--hosts", "a.com,b.com"], ["lockdown", "sbx_1", "--yes"],
        ["observe", "sbx_1"], ["pending"], ["pending", "ls", "sbx_1"], ["pending", "allow", "pnd_1", "--tenant"],
        ["pending", "block", "pnd_1", "--sandbox", "sbx_1"], ["suggestions", "sbx_1", "--since", "7d"],
        ["explain", "sbx_1", "pypi.org:443", "--method", "GET", "--path", "/simple/"], ["export", "sbx_1"], ["import", "sbx_1", "policy.json"],
        ["profile", "ls"], ["profile", "show", "pypi"], ["audit", "--action", "reject", "--json"], ["audit", "--sandbox", "sbx_1", "--since", "24h"],
    ]

    @Test("documented command lines parse", arguments: accepted)
    func parses(_ args: [String]) throws {
        _ = try PortcullisCommand.parseAsRoot(args)
    }

    static let refused: [[String]] = [
        ["sandbox", "show"], ["policy", "allow", "dns", "x.com", "--tenant"], ["policy", "rm", "network"],
        ["explain", "sbx_1"], ["lockdown"], ["import", "sbx_1"], ["check", "example.com"], ["audit", "--limit", "many"], ["nonsense"],
    ]

    @Test("malformed command lines are refused", arguments: refused)
    func refuses(_ args: [String]) {
        #expect(throws: (any Error).self) { _ = try PortcullisCommand.parseAsRoot(args) }
    }

    @Test("serve flags fall back to PORTCULLIS_ variables and are validated")
    func serveConfiguration() throws {
        let command = try ServeCommand.parse([])
        let c = try command.configuration(environment: ["PORTCULLIS_API": "127.0.0.1:9000", "PORTCULLIS_DATA_DIR": "/tmp/d",
                                                        "PORTCULLIS_GUARD_EXEMPT": "10.0.0.0/8, 192.0.2.0/24", "PORTCULLIS_AUDIT_RETENTION_DAYS": "7"])
        #expect(c.api.port == 9000)
        #expect(c.dataDirectory == "/tmp/d")
        #expect(c.guardExemptions.map(\.description) == ["10.0.0.0/8", "192.0.2.0/24"])
        #expect(c.auditRetentionDays == 7)
        let flagsWin = try ServeCommand.parse(["--api", "127.0.0.1:9100"]).configuration(environment: ["PORTCULLIS_API": "127.0.0.1:9000"])
        #expect(flagsWin.api.port == 9100)
        for (args, env) in [(["--api", "nowhere"], [String: String]()), (["--guard-exempt", "10.0.0.1/8"], [:]),
                            (["--database-url", "mysql://x"], [:]), (["--admin-token", "short"], [:]), ([], ["PORTCULLIS_AUDIT_RETENTION_DAYS": "0"])] {
            #expect(throws: InputError.self, "\(args) \(env)") { _ = try ServeCommand.parse(args).configuration(environment: env) }
        }
    }

    @Test("policy log lines read like sbx's")
    func logLines() {
        #expect(PolicyCommand.logLine(#"data: {"host": "pypi.org", "action": "allow", "status": 200}"#, json: false) == "ALLOWED   pypi.org                 200")
        #expect(PolicyCommand.logLine(#"data: {"host": "pypi.org", "action": "reject", "status": 403}"#, json: false) == "BLOCKED   pypi.org                 -")
        // Terminated requests show the request and a marker; a credential is named (never a value).
        #expect(PolicyCommand.logLine(#"data: {"host": "api.test", "action": "allow", "status": 200, "terminated": true, "method": "GET", "path": "/v1/x", "credential": "openai"}"#, json: false)
                == "ALLOWED   api.test                 200  GET /v1/x  [terminated]  [credential openai]")
        #expect(PolicyCommand.logLine(#"data: {"host": "api.test", "action": "warn", "status": 200, "terminated": true, "method": "POST", "path": "/v1/y", "credential": "openai", "rejected_by": "credential-reflected"}"#, json: false)
                == "WARN      api.test                 200  POST /v1/y  [terminated]  [credential-reflected openai]")
        #expect(PolicyCommand.logLine(#"data: {"host": "api.test", "action": "reject", "status": 403, "terminated": false, "credential": "openai", "rejected_by": "credential-misuse"}"#, json: false)
                == "BLOCKED   api.test                 -  [credential-misuse openai]")
        #expect(PolicyCommand.logLine(#"data: {"host": "x.test", "action": "warn", "status": 200}"#, json: false)?.hasPrefix("WARN") == true)
        #expect(PolicyCommand.logLine(": keep-alive", json: false) == nil)
        #expect(PolicyCommand.logLine("data: {\"host\": \"evil\\u001b[31m.test\", \"action\": \"allow\"}", json: false)?.contains("\u{1B}") == false)
    }
}
