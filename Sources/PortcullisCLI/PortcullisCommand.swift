import ArgumentParser

/// The `portcullis` command and its subcommands.
public struct PortcullisCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "An egress gateway for sandboxes.",
        subcommands: [CheckCommand.self]
    )

    public init() {}
}
