import ArgumentParser
import Foundation

/// The `portcullis` command and its subcommands.
public struct PortcullisCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "An egress gateway for sandboxes.",
        subcommands: [
            ServeCommand.self, CheckCommand.self, LoginCommand.self, SandboxCommand.self, PolicyCommand.self, LockdownCommand.self,
            ObserveCommand.self, PendingCommand.self, SuggestionsCommand.self, ExplainCommand.self, ExportCommand.self,
            ImportCommand.self, ProfileCommand.self, TemplateCommand.self, CredentialCommand.self, AuditCommand.self, RunCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line, with usage errors exiting 2 (bad input) like every other
    /// input error of the CLI, and the message on stderr.
    public static func runMain(_ arguments: [String]? = nil) async {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(CLIExit.badInput.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// The CLI's exit statuses. Most commands exit 1 when the API refuses a call; `check` and
/// `explain` keep 1 for "rejected", and `explain` says 4 for an API refusal.
public enum CLIExit: Int32 {
    case ok = 0
    /// A target was rejected (`check`, `explain`); for other commands, the API refused the call.
    case rejected = 1
    case badInput = 2
    /// The API could not be reached.
    case unreachable = 3
    /// The API refused the call (unknown sandbox, bad key, …), where 1 means "rejected".
    case apiRefused = 4
}

/// An input error: one line on stderr, exit 2.
struct InputError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Writes one line to stderr.
func printError(_ line: String) {
    FileHandle.standardError.write(Data(("portcullis: " + line + "\n").utf8))
}
