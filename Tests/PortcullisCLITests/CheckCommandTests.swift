import Foundation
@testable import PortcullisCLI
import PortcullisPolicy
import PortcullisRunner
import Testing

/// `portcullis check`: argument parsing in process, and the real binary's output and exit
/// statuses as a subprocess.
@Suite("portcullis check")
struct CheckCommandTests {
    static let policyJSON = """
        {"mode": "enforce",
         "allow_rules": [
           {"id": "rul_openai", "host": "api.openai.com", "port": 443, "protocol": "tcp", "source": "local", "created_at": "2026-12-01T00:00:00Z"},
           {"host": "*.pythonhosted.org"},
           {"id": "rul_chat", "host": "chat.example.com", "methods": ["POST"], "paths": ["/v1/chat/*"]},
           {"id": "rul_trial", "host": "api.experimental.example.com", "warn_only": true}
         ],
         "deny_rules": [{"id": "rul_md", "host": "169.254.169.254"}, {"id": "rul_tor", "host": "185.220.0.0/16"}],
         "profiles": ["pypi"]}
        """

    static func writePolicy(_ text: String = policyJSON) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID().uuidString).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func reports(_ args: [String]) throws -> [DecisionReport] {
        let command = try CheckCommand.parse(args)
        return try command.decideAll()
    }

    @Test("each target is decided with the rule that decided it")
    func decisions() throws {
        let path = try Self.writePolicy()
        let r = try reports(["--policy", path, "api.openai.com:443", "example.com", "pypi.org", "files.pythonhosted.org:443",
                             "api.experimental.example.com", "169.254.169.254:80"])
        #expect(r.map(\.decision.verdict) == [.allow, .reject, .allow, .allow, .warn, .reject])
        #expect(r[0].decision.ruleID == "rul_openai")
        #expect(r[1].decision.rejectedBy == "default-deny")
        #expect(r[2].decision.rule?.source == .profile("pypi"))
        #expect(r[5].decision.rejectedBy == "rul_md")
        #expect(r[1].target.port == 443, "a target without a port is checked on 443")
    }

    @Test("--resolved exercises the address stage and --method/--path the endpoint stage")
    func stages() throws {
        let path = try Self.writePolicy()
        let guarded = try reports(["--policy", path, "--resolved", "10.0.0.5", "api.openai.com:443"])
        #expect(guarded[0].decision.rejectedBy == "guard:10.0.0.0/8")
        #expect(guarded[0].address?.description == "10.0.0.5")
        let opaque = try reports(["--policy", path, "chat.example.com"])
        #expect(opaque[0].decision.rejectedBy == "endpoint-opaque")
        let visible = try reports(["--policy", path, "--method", "POST", "--path", "/v1/chat/completions", "chat.example.com"])
        #expect(visible[0].decision.verdict == .allow)
        let exempt = try reports(["--policy", path, "--resolved", "10.0.0.5", "--guard-exempt", "10.0.0.0/8", "api.openai.com:443"])
        #expect(exempt[0].decision.verdict == .allow)
    }

    @Test("bad input is refused with a clear message", arguments: [
        (["example.com"], "policy"),
        (["--resolved", "not-an-ip", "example.com"], "--resolved"),
        (["--protocol", "icmp", "example.com"], "--protocol"),
        (["example.com:99999"], "port must be a number"),
        (["*.example.com"], "one host"),
        (["--guard-exempt", "10.0.0.1/8", "example.com"], "10.0.0.0/8"),
    ])
    func badInput(args: [String], fragment: String) throws {
        let path = try Self.writePolicy()
        let full = args.first == "example.com" && fragment == "policy" ? ["--policy", "/nonexistent/policy.json"] + args : ["--policy", path] + args
        do {
            _ = try reports(full)
            Issue.record("accepted \(full)")
        } catch let error as InputError {
            #expect(error.message.contains(fragment) || (fragment == "policy" && error.message.contains("cannot read")), "\(error.message)")
        }
    }

    @Test("a bad policy file names the field at fault", arguments: [
        ("{", "not valid JSON"),
        (#"{"mode": "strict"}"#, "mode must be one of"),
        (#"{"allow_rules": [{"host": "a..b"}]}"#, "allow_rules[0]: host:"),
        (#"{"deny_rules": [{"host": "x.test", "methods": ["GET"]}]}"#, "deny_rules[0]: methods apply to allow rules only"),
        (#"{"allow_rules": [{"port": 443}]}"#, "host is required"),
        (#"{"allow_rules": [{"host": 7}]}"#, "wrong type"),
        (#"{"profiles": ["no-such-profile"]}"#, "not a built-in profile"),
        (#"{"allow_rules": [{"host": "a.test", "action": "deny"}]}"#, "does not belong in allow_rules"),
        // An unknown field is named, never ignored (a typo would check against an empty list).
        (#"{"allow_rule": [{"host": "a.test"}]}"#, #"unknown field "allow_rule""#),
        (#"{"allow_rules": [{"host": "a.test", "path": ["/x"]}]}"#, #"unknown field "path" in allow_rules[0]"#),
    ])
    func badPolicy(text: String, fragment: String) throws {
        let path = try Self.writePolicy(text)
        do {
            _ = try reports(["--policy", path, "example.com"])
            Issue.record("accepted \(text)")
        } catch let error as InputError {
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    // MARK: the binary

    static var binary: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/portcullis")
    }

    /// Through the runner's `posix_spawn` helper rather than Foundation's `Process`
    /// (see the gateway tests' harness for why).
    func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let output = try Spawn.run([Self.binary.path] + args, timeout: 30)
        return (output.status.runnerCode, output.stdout, output.stderr)
    }

    @Test("the binary exits 0 for allow, 1 for a rejection, 2 for bad input")
    func exitStatuses() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build the portcullis binary first (swift build)")
        let path = try Self.writePolicy()
        let ok = try run(["check", "--policy", path, "api.openai.com:443"])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("ALLOW"))
        #expect(ok.stdout.contains("rul_openai"))
        let rejected = try run(["check", "--policy", path, "api.openai.com:443", "example.com"])
        #expect(rejected.status == 1)
        #expect(rejected.stdout.contains("REJECT"))
        #expect(rejected.stdout.contains("default-deny"))
        let bad = try run(["check", "--policy", path, "a..b"])
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("portcullis: "))
        #expect(bad.stdout.isEmpty)
        let usage = try run(["check", "example.com"])
        #expect(usage.status == 2, "a usage error is bad input too")
        #expect(usage.stderr.contains("--policy"))
    }

    @Test("--json prints one object per target with the explain fields")
    func json() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build the portcullis binary first (swift build)")
        let path = try Self.writePolicy()
        let result = try run(["check", "--json", "--policy", path, "example.com:443", "--resolved", "93.184.216.34"])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["action"] as? String == "reject")
        #expect(object["rejected_by"] as? String == "default-deny")
        #expect(object["stage"] as? String == "name")
        #expect(object["mode"] as? String == "allowlist")
        #expect(object["pending"] as? Bool == true)
        #expect(object["port"] as? Int == 443)
        #expect(object["rule_id"] is NSNull)
        for key in ["host", "reason", "policy_version", "would_reject", "address"] { #expect(object[key] != nil, "\(key)") }
    }
}
