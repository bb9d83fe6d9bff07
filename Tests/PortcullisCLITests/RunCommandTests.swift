import ArgumentParser
@testable import PortcullisCLI
import PortcullisRunner
import Testing

/// `portcullis run`'s arguments: what parses, what is refused (exit 2) before anything is made.
@Suite("portcullis run arguments")
struct RunCommandTests {
    static let accepted: [[String]] = [
        ["run", "--new", "--", "curl", "https://allowed.test/"],
        ["run", "--new", "--allow", "pypi.org", "--deny", "0.0.0.0/0", "--profile", "pypi", "--keep", "--name", "job", "--", "pip", "download", "x"],
        ["run", "--sandbox", "sbx_abc123", "--api", "http://127.0.0.1:8080", "--token", "k", "--", "sh", "-c", "exit 3"],
        ["run", "--sandbox", "sbx_abc123", "--url", "http://127.0.0.1:8080", "--", "true"],
        ["run", "--new", "--transparent", "0.0.0.0:3129", "--dns", "127.0.0.1:5353", "--pool", "10.99.0.0/24", "--user", "nobody", "--", "true"],
        ["run", "--new", "--", "sh", "--new", "--sandbox"],
    ]

    @Test("documented run lines parse", arguments: accepted)
    func parses(_ args: [String]) throws {
        _ = try PortcullisCommand.parseAsRoot(args)
    }

    static let refused: [[String]] = [
        ["run", "--", "true"], ["run", "--new", "--sandbox", "sbx_abc", "--", "true"], ["run", "--new"],
        ["run", "--sandbox", "sbx_abc", "--allow", "pypi.org", "--", "true"], ["run", "--sandbox", "sbx_abc", "--keep", "--", "true"],
        ["run", "--sandbox", "../../etc", "--", "true"], ["run", "--sandbox", "sbx_ABC", "--", "true"],
        ["run", "--new", "--pool", "10.0.0.0/31", "--", "true"], ["run", "--new", "--pool", "banana", "--", "true"],
        ["run", "--new", "--pool", "127.0.0.0/16", "--", "true"], ["run", "--new", "--transparent", "127.0.0.1", "--", "true"],
        ["run", "--new", "--dns", "[::1]:53", "--", "true"], ["run", "--new", "--dns", "127.0.0.1:0", "--", "true"],
    ]

    @Test("malformed run lines are refused", arguments: refused)
    func refuses(_ args: [String]) {
        #expect(throws: (any Error).self) { _ = try PortcullisCommand.parseAsRoot(args) }
    }

    @Test("the command after -- is kept whole, options and all")
    func commandKept() throws {
        let run = try RunCommand.parse(["--new", "--", "sh", "--new", "-c", "exit 3"])
        #expect(run.command == ["sh", "--new", "-c", "exit 3"])
    }

    @Test("listeners default to serve's, then PORTCULLIS_ variables, then flags")
    func listenerDefaults() throws {
        let plain = try RunCommand.parse(["--new", "--", "true"]).listeners(environment: [:])
        #expect(plain.transparent.description == "127.0.0.1:3129" && plain.dns.description == "127.0.0.1:5353")
        let env = try RunCommand.parse(["--new", "--", "true"]).listeners(environment: ["PORTCULLIS_DNS": "0.0.0.0:5300"])
        #expect(env.dns.reach == .wildcard && env.dns.port == 5300)
        let flag = try RunCommand.parse(["--new", "--dns", "127.0.0.2:53", "--", "true"]).listeners(environment: ["PORTCULLIS_DNS": "0.0.0.0:5300"])
        #expect(flag.dns.description == "127.0.0.2:53")
    }

    @Test("the owner of a conflicting address is read from the API's message")
    func conflictOwner() {
        #expect(RunSession.owner(inConflict: "address 100.120.0.2 already belongs to sandbox sbx_k3j9a0") == "sbx_k3j9a0")
        #expect(RunSession.owner(inConflict: "something else") == nil)
    }
}
