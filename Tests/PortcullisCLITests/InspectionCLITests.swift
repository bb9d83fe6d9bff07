import ArgumentParser
import Foundation
@testable import PortcullisCLI
import PortcullisRunner
import Testing

@Suite("CLI: inspect, the CA bundle and serve's secrets flags")
struct InspectionCLITests {
    @Test("policy allow takes --inspect and --no-inspect; left out, inspect is not sent")
    func inspectFlag() throws {
        func parsed(_ extra: [String]) throws -> Bool? {
            let command = try PortcullisCommand.parseAsRoot(["policy", "allow", "network", "api.test", "--sandbox", "sbx_1"] + extra)
            return try #require(command as? PolicyCommand.Allow).inspect
        }
        #expect(try parsed(["--inspect"]) == true)
        #expect(try parsed(["--no-inspect"]) == false)
        #expect(try parsed([]) == nil)
        #expect(throws: (any Error).self) { _ = try PortcullisCommand.parseAsRoot(["policy", "deny", "network", "x.test", "--tenant", "--inspect"]) }
    }

    @Test("sandbox create and show take --ca-file")
    func caFileFlag() throws {
        let create = try #require(try PortcullisCommand.parseAsRoot(["sandbox", "create", "--env", "--ca-file", "/tmp/ca.pem"]) as? SandboxCommand.Create)
        #expect(create.caFile == "/tmp/ca.pem" && create.env)
        let show = try #require(try PortcullisCommand.parseAsRoot(["sandbox", "show", "sbx_1", "--env", "--ca-file", "ca.pem"]) as? SandboxCommand.Show)
        #expect(show.caFile == "ca.pem")
    }

    @Test("the export line names every variable, in the contract's order, with the path quoted only when it must be")
    func exportLine() {
        #expect(CABundle.exportLine(path: "/tmp/sbx/ca.pem")
                == "export SSL_CERT_FILE=/tmp/sbx/ca.pem REQUESTS_CA_BUNDLE=/tmp/sbx/ca.pem CURL_CA_BUNDLE=/tmp/sbx/ca.pem NODE_EXTRA_CA_CERTS=/tmp/sbx/ca.pem GIT_SSL_CAINFO=/tmp/sbx/ca.pem")
        #expect(CABundle.exportLine(path: "/tmp/my dir/it's.pem").hasPrefix("export SSL_CERT_FILE='/tmp/my dir/it'\\''s.pem' "))
        #expect(CABundle.exportLine(path: "/tmp/$(reboot).pem").contains("SSL_CERT_FILE='/tmp/$(reboot).pem'"))
        #expect(CABundle.environment(path: "/p") == ["SSL_CERT_FILE": "/p", "REQUESTS_CA_BUNDLE": "/p", "CURL_CA_BUNDLE": "/p",
                                                     "NODE_EXTRA_CA_CERTS": "/p", "GIT_SSL_CAINFO": "/p"])
    }

    @Test("the bundle is the system's certificates followed by the sandbox's CA, written whole")
    func bundle() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-bundle-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let system = "-----BEGIN CERTIFICATE-----\nSYSTEM\n-----END CERTIFICATE-----"
        try system.write(toFile: dir + "/system.pem", atomically: true, encoding: .utf8)
        let found = try #require(CABundle.systemBundle(locations: [dir + "/absent.pem", dir + "/system.pem"]))
        #expect(found.path == dir + "/system.pem")
        let ca = "-----BEGIN CERTIFICATE-----\nSANDBOX\n-----END CERTIFICATE-----\n"
        let text = CABundle.compose(system: found.text, sandboxCA: ca, sandboxID: "sbx_1")
        #expect(text.hasPrefix(system + "\n"))
        #expect(text.hasSuffix(ca))
        #expect(text.contains("sbx_1"))
        #expect(CABundle.compose(system: nil, sandboxCA: ca, sandboxID: "sbx_1").hasSuffix(ca))
        try CABundle.write(text, to: dir + "/bundle.pem")
        #expect(try String(contentsOfFile: dir + "/bundle.pem", encoding: .utf8) == text)
        #expect((try FileManager.default.attributesOfItem(atPath: dir + "/bundle.pem")[.posixPermissions] as? Int) == 0o644)
        #expect(throws: RunSetupError.self) { try CABundle.write(text, to: dir + "/no/such/dir/bundle.pem") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["bundle.pem", "system.pem"], "no temporary file left")
    }

    @Test("serve: --secrets-key-file (or PORTCULLIS_SECRETS_KEY_FILE, a path, never a key) and repeatable --upstream-ca")
    func serveFlags() throws {
        let defaults = try ServeCommand.parse(["--data-dir", "/tmp/d"]).configuration(environment: [:])
        #expect(defaults.secretsKeyFile == nil && defaults.secretsKeyPath == "/tmp/d/secrets.key")
        let flag = try ServeCommand.parse(["--secrets-key-file", "/etc/portcullis/key"]).configuration(environment: ["PORTCULLIS_SECRETS_KEY_FILE": "/x"])
        #expect(flag.secretsKeyPath == "/etc/portcullis/key")
        #expect(try ServeCommand.parse([]).configuration(environment: ["PORTCULLIS_SECRETS_KEY_FILE": "/run/k"]).secretsKeyPath == "/run/k")
        #expect(throws: InputError.self) { _ = try ServeCommand.parse(["--secrets-key-file", "/tmp/"]).configuration(environment: [:]) }

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-ca-\(UUID().uuidString).pem").path
        try "pem".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(try ServeCommand.parse(["--upstream-ca", file, "--upstream-ca", file]).configuration(environment: [:]).upstreamCAFiles == [file, file])
        #expect(try ServeCommand.parse([]).configuration(environment: ["PORTCULLIS_UPSTREAM_CA": "\(file), \(file)"]).upstreamCAFiles == [file, file])
        #expect(throws: InputError.self) { _ = try ServeCommand.parse(["--upstream-ca", "/nonexistent/ca.pem"]).configuration(environment: [:]) }
    }
}
