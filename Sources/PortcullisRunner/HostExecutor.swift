import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Performs `HostStep`s with the system tools, and reads the host's network state.
public struct HostExecutor: Sendable {
    public let tools: [SystemTool: String]

    /// Finds every tool in the system directories; the error names the missing package.
    public static func locate() throws(RunInputError) -> HostExecutor {
        var found: [SystemTool: String] = [:]
        for tool in SystemTool.allCases {
            guard let path = SystemTool.directories.map({ $0 + "/" + tool.rawValue }).first(where: { access($0, X_OK) == 0 }) else {
                throw RunInputError("`\(tool.rawValue)` is missing: install the \(tool.package) package")
            }
            found[tool] = path
        }
        return HostExecutor(tools: found)
    }

    public func path(_ tool: SystemTool) -> String { tools[tool] ?? "/usr/sbin/" + tool.rawValue }

    /// Runs a tool; throws with its stderr when it fails.
    @discardableResult
    public func tool(_ tool: SystemTool, _ arguments: [String], input: String? = nil) throws -> String {
        let output = try Spawn.run([path(tool)] + arguments, input: input)
        guard output.status.succeeded else {
            let reason = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw RunSetupError("\(tool.rawValue) \(arguments.joined(separator: " ")) failed: \(reason.isEmpty ? "\(output.status)" : reason)")
        }
        return output.stdout
    }

    /// Performs one step.
    public func perform(_ step: HostStep) throws {
        switch step {
        case .run(let t, let arguments, let input):
            try tool(t, arguments, input: input)
        case .sysctl(let path, let value):
            // A kernel without IPv6 has no IPv6 to disable.
            if path.hasPrefix("/proc/sys/net/ipv6/") && !FileManager.default.fileExists(atPath: "/proc/sys/net/ipv6") { return }
            guard let handle = FileHandle(forWritingAtPath: path) else { throw RunSetupError("cannot open \(path)") }
            defer { try? handle.close() }
            try handle.write(contentsOf: Data((value + "\n").utf8))
        case .writeFile(let directory, let name, let contents):
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
            let path = directory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o644]) else {
                throw RunSetupError("cannot write \(path)")
            }
        case .writeGroupFile(let directory, let name, let contents, let group):
            try writeGroupFile(directory: directory, name: name, contents: contents, group: group)
        case .removeDirectory(let path):
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        case .killNamespaceProcesses(let namespace):
            guard let text = try? tool(.ip, ["netns", "pids", namespace]) else { return }
            for line in text.split(separator: "\n").prefix(100_000) {
                if let pid = Int32(line.trimmingCharacters(in: .whitespaces)), pid > 1, pid != getpid() { kill(pid, SIGKILL) }
            }
        }
    }

    /// Creates `directory` (root:`group` 0750, in a parent that others may pass through but
    /// not list, 0711) and writes `name` in it (root:`group` 0640) through a temporary file
    /// renamed into place.
    func writeGroupFile(directory: String, name: String, contents: String, group: UInt32) throws {
        let parent = (directory as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        guard chmod(parent, 0o711) == 0 else { throw RunSetupError("cannot set the mode of \(parent): \(String(cString: strerror(errno)))") }
        if mkdir(directory, 0o750) != 0, errno != EEXIST {
            throw RunSetupError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        guard chown(directory, 0, group) == 0, chmod(directory, 0o750) == 0 else {
            throw RunSetupError("cannot give \(directory) to group \(group): \(String(cString: strerror(errno)))")
        }
        let path = directory + "/" + name, temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o640]),
              chown(temporary, 0, group) == 0, chmod(temporary, 0o640) == 0, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw RunSetupError("cannot write \(path): \(reason)")
        }
    }

    /// Performs every step of a teardown, carrying on past failures; the failures that are
    /// not "already gone" are returned for a warning.
    public func performAll(_ steps: [HostStep]) -> [String] {
        var problems: [String] = []
        for step in steps {
            do { try perform(step) } catch {
                let text = "\(error)"
                let gone = ["Cannot find device", "No such file", "No such process", "does not exist", "Invalid argument"]
                if !gone.contains(where: text.contains) { problems.append(text) }
            }
        }
        return problems
    }

    /// The host namespace's addresses, routes, links, namespaces and nftables tables.
    public func observe() throws -> HostNetwork {
        var host = HostNetwork()
        host.parseAddresses(try tool(.ip, ["-j", "addr"]))
        host.parseRoutes(try tool(.ip, ["-j", "route", "show", "table", "all"]))
        host.parseNamespaces((try? tool(.ip, ["-j", "netns", "list"])) ?? "")
        host.parseTables(try tool(.nft, ["-j", "list", "tables"]))
        return host
    }
}
