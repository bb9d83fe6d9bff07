import Foundation
import PortcullisRunner

/// What a command printed and how it ended.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// A tool a test needs is not installed: the test fails naming it (never a silent skip).
public struct MissingTool: Error, CustomStringConvertible {
    public let description: String
}

/// Runs a command on a thread of its own (never blocking the concurrency pool) through
/// the runner's `posix_spawn` + `poll` helper; killed, and the test failed, after
/// `timeout` seconds. Proxy variables of the environment are dropped so that only the
/// arguments say where traffic goes. (Foundation's `Process` with pipe
/// `readabilityHandler`s crashed the test process inside libdispatch in one CI run: a
/// dispatch source outlived its pipe.)
public func run(_ executable: String, _ arguments: [String], timeout: Double = 20) async throws -> ProcessResult {
    var env = ProcessInfo.processInfo.environment
    for key in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"] {
        env[key] = nil
    }
    let environment = env.map { "\($0.key)=\($0.value)" }
    let argv = [executable] + arguments
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProcessResult, Error>) in
        let thread = Thread {
            do {
                let output = try Spawn.run(argv, timeout: timeout, environment: environment)
                continuation.resume(returning: ProcessResult(status: output.status.runnerCode, stdout: output.stdout,
                                                             stderr: output.stderr))
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}

/// The first `tool` on PATH (then the usual directories).
public func which(_ tool: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/bin"] {
        let path = dir + "/" + tool
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

public let curlPath = which("curl")
public let python3Path = which("python3")

/// A python3 that can `import requests`, or nil.
public func pythonWithRequests() async -> String? {
    guard let python = python3Path,
          let r = try? await run(python, ["-c", "import requests"]), r.status == 0 else { return nil }
    return python
}

/// `curl -s -S` with a short overall timeout; the test fails when curl is missing.
public func curl(_ arguments: [String]) async throws -> ProcessResult {
    guard let path = curlPath else { throw MissingTool(description: "curl is needed for this test (apt-get install curl)") }
    return try await run(path, ["-s", "-S", "--max-time", "10"] + arguments)
}
