import ArgumentParser

/// `portcullis check --policy FILE TARGET...`
public struct CheckCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Decide targets against an exported policy file, without any network access."
    )

    public init() {}

    public func run() async throws {}
}
