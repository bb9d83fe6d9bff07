import Foundation
import PortcullisAPI

/// Printing helpers: aligned tables for people, JSON for scripts, a progress indicator
/// on a terminal while a call waits.
enum Output {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    static func json<T: Encodable>(_ value: T) throws {
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func table(_ header: [String], _ rows: [[String]]) {
        for line in TextTable.render(header: header, rows: rows) { print(line) }
    }

    static func time(_ d: Date) -> String { d.formatted(.iso8601) }

    /// Shows a spinner on stderr while `body` runs longer than 0.3 s (terminals only). The
    /// spinner is a child task: it has stopped, and its line is cleared, before this returns.
    static func progress<T>(_ label: String, _ body: () async throws -> T) async rethrows -> T {
        guard isatty(2) != 0 else { return try await body() }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await spin(label) }
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            group.cancelAll()
            while (try? await group.next()) != nil {}
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            return try result.get()
        }
    }

    /// Frames every 100 ms after 0.3 s, until cancelled.
    private static func spin(_ label: String) async {
        guard (try? await Task.sleep(for: .milliseconds(300))) != nil else { return }
        let frames = ["|", "/", "-", "\\"]
        var i = 0
        while !Task.isCancelled {
            FileHandle.standardError.write(Data("\r\(frames[i % 4]) \(label)…".utf8))
            i += 1
            guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { return }
        }
    }
}

extension Components.Schemas.Rule {
    /// `host[:port]`, as the CLI writes rules.
    var hostPort: String { port.map { host.contains(":") ? "[\(host)]:\($0)" : "\(host):\($0)" } ?? host }
}

extension Components.Schemas.Rule {
    /// The rule as an input again (an exported policy, a template, a PUT).
    var input: Components.Schemas.RuleInput {
        .init(action: action, host: host, port: port, _protocol: _protocol, methods: methods, paths: paths,
              warn_only: warn_only, inspect: inspect, except: except.isEmpty ? nil : except, note: note)
    }
}

extension Components.Schemas.SandboxPolicy {
    /// What `portcullis export` prints: own mode, local rules, attached profiles.
    var exported: Components.Schemas.ExportedPolicy {
        .init(mode: own_mode.flatMap { Components.Schemas.ModeInput(rawValue: $0.rawValue) },
              allow_rules: allow_rules.map(\.input), deny_rules: deny_rules.map(\.input), profiles: profiles)
    }
}
