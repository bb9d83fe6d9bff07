import ArgumentParser
import Foundation
@testable import PortcullisCLI
import Testing

/// What the CLI tells a new user: where `login` keeps its file, exit codes, and messages
/// that name the next command.
@Suite("CLI messages and paths")
struct OperatorMessagesTests {
    @Test("login's file is under $XDG_CONFIG_HOME, else $HOME/.config (an empty or relative XDG_CONFIG_HOME is ignored)")
    func credentialsPath() {
        let file = "portcullis/credentials.json"
        #expect(Connection.credentialsPath(environment: ["XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/a"]).path == "/x/cfg/" + file)
        #expect(Connection.credentialsPath(environment: ["HOME": "/home/a"]).path == "/home/a/.config/" + file)
        #expect(Connection.credentialsPath(environment: ["XDG_CONFIG_HOME": "", "HOME": "/home/a"]).path == "/home/a/.config/" + file)
        #expect(Connection.credentialsPath(environment: ["XDG_CONFIG_HOME": "rel", "HOME": "/home/a"]).path == "/home/a/.config/" + file)
    }

    @Test("explain's --help lists every exit status")
    func explainExitTable() {
        let help = ExplainCommand.helpMessage(columns: 200)
        for line in ["0  allowed or warned", "1  rejected", "2  bad input", "3  the API cannot be reached", "4  the API refused the call"] {
            #expect(help.contains(line), "\(line) missing from:\n\(help)")
        }
        #expect(CLIExit.apiRefused.rawValue == 4 && CLIExit.unreachable.rawValue == 3)
    }

    @Test("a window flag is checked before the call and named in the message")
    func windows() throws {
        #expect(try CommandHints.window("7d", flag: "--from-suggestions") == "7d")
        for bad in ["7days", "0d", "d", "7", "-1d", "99999d"] {
            do {
                _ = try CommandHints.window(bad, flag: "--from-suggestions")
                Issue.record("\(bad) was accepted")
            } catch let error as InputError {
                #expect(error.message.hasPrefix("--from-suggestions must be a window"), "\(error.message)")
                #expect(!error.message.contains("from_suggestions") && !error.message.hasPrefix("since"))
            }
        }
    }

    @Test("lockdown without a terminal says what would happen and what to give")
    func lockdownRefusal() {
        let none = LockdownCommand.refusal(sandbox: "sbx_a", allowRules: 0)
        #expect(none.contains("sbx_a") && none.contains("no allow rule, so every host would be rejected"))
        #expect(none.contains("--hosts") && none.contains("--from-suggestions") && none.contains("--yes"))
        #expect(LockdownCommand.refusal(sandbox: "sbx_a", allowRules: 2).contains("2 allow rules, and every host none of them covers would be rejected"))
    }

    @Test("a deny rule in audit or unrestricted mode says it blocks nothing yet")
    func denyNotes() {
        let audit = PolicyCommand.denyNote(mode: .audit, subject: "sbx_a is", lockdown: "`portcullis lockdown sbx_a`")
        #expect(audit == "note: sbx_a is in audit mode: this deny rule is only logged (would_reject), nothing is blocked until `portcullis lockdown sbx_a`")
        #expect(PolicyCommand.denyNote(mode: .unrestricted, subject: "sbx_a is", lockdown: "x")?.contains("blocks nothing") == true)
        for mode in [Schemas.Mode.allowlist, .denylist, .isolated] {
            #expect(PolicyCommand.denyNote(mode: mode, subject: "sbx_a is", lockdown: "x") == nil)
        }
    }

    @Test("unknown sandboxes and templates, and rules from elsewhere, name the command that helps")
    func hints() {
        let missing = APIFailure(status: 404, message: "sandbox not found")
        #expect(CommandHints.unknownSandbox(missing, "sbx_gone") ==
            "sandbox sbx_gone not found: `portcullis sandbox ls` lists this tenant's sandboxes, `portcullis sandbox create` makes one")
        #expect(CommandHints.unknownSandbox(missing, nil) == nil)
        #expect(CommandHints.unknownSandbox(APIFailure(status: 404, message: "rule not found"), "sbx_a") == nil)
        let template = CommandHints.unknownTemplate(APIFailure(status: 404, message: "template python-ds not found"), "python-ds")
        #expect(template?.hasPrefix("template python-ds not found: `portcullis template ls`") == true)
        #expect(template?.contains("portcullis template create python-ds --from-sandbox") == true)
        #expect(CommandHints.foreignRule("rul_1", source: "tenant", sandbox: "sbx_a").contains("`portcullis policy rm network --id rul_1 --tenant`"))
        let profile = CommandHints.foreignRule("rul_builtin_pypi_1", source: "profile:pypi", sandbox: "sbx_a")
        #expect(profile.contains("`portcullis profile detach pypi --sandbox sbx_a`") && profile.contains("cannot be removed"))
    }

    static let accepted: [[String]] = [
        ["template", "create", "python-ds", "--from-sandbox", "sbx_1"], ["template", "create", "t", "--policy", "p.json", "--mode", "allowlist"],
        ["template", "create", "t", "--allow", "pypi.org:443", "--deny", "10.0.0.0/8", "--profile", "pypi"],
        ["template", "ls"], ["template", "show", "t", "--json"], ["template", "rm", "t"],
        ["policy", "mode", "allowlist", "--tenant"], ["policy", "mode", "tenant", "--sandbox", "sbx_1"],
        ["policy", "rm", "network", "--id", "rul_1", "--tenant"],
        ["profile", "attach", "pypi", "--sandbox", "sbx_1"], ["profile", "detach", "pypi"],
    ]

    @Test("the new command lines parse", arguments: accepted)
    func parses(_ args: [String]) throws {
        _ = try PortcullisCommand.parseAsRoot(args)
    }

    static let refused: [[String]] = [
        ["template", "create"], ["template", "create", "t", "--from-sandbox", "sbx_1", "--policy", "p.json"], ["template", "show"],
        ["policy", "mode"], ["policy", "rm", "network", "--id", "rul_1", "--tenant", "--sandbox", "sbx_1"], ["profile", "attach"],
    ]

    @Test("malformed new command lines are refused", arguments: refused)
    func refuses(_ args: [String]) {
        #expect(throws: (any Error).self) { _ = try PortcullisCommand.parseAsRoot(args) }
    }
}

@Suite("CLI tables are safe for a terminal")
struct TerminalSafeTableTests {
    @Test("a control character in a cell (a name or note set through the API) is written out, never sent raw")
    func controlCharacters() {
        let lines = TextTable.render(header: ["NAME", "NOTE"], rows: [["evil\u{1B}[2J", "a\nb\u{7F}\u{9B}c"], ["plain", "Zoë"]])
        #expect(lines[1].contains("evil\\u{1B}[2J") && lines[1].contains("a\\u{A}b\\u{7F}\\u{9B}c"), "\(lines)")
        #expect(!lines.joined().unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        #expect(lines[2].hasSuffix("Zoë"))
    }
}
