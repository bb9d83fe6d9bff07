import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a finished tool printed, and how it ended.
public struct ToolOutput: Sendable {
    public let status: ExitStatus
    public let stdout: String
    public let stderr: String
}

/// Processes started with `posix_spawn` (TOOLCHAIN-NOTES: `Foundation.Process`
/// misbehaved around namespaces). Every tool run is bounded in time and output.
public enum Spawn {
    /// The most output kept from one tool run.
    public static let outputLimit = 1 << 20

    /// Starts `argv` (argv[0] an absolute path) with `environment`; the given signals are
    /// reset to their default action and the signal mask is emptied in the child (the
    /// runner ignores the signals it forwards). `stdio` are the child's fds 0, 1, 2 (nil:
    /// inherited).
    public static func start(_ argv: [String], environment: [String], stdio: (Int32, Int32, Int32)? = nil,
                             closeInChild: [Int32] = [], defaultSignals: [Int32] = []) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let (i, o, e) = stdio {
            posix_spawn_file_actions_adddup2(&actions, i, 0)
            posix_spawn_file_actions_adddup2(&actions, o, 1)
            posix_spawn_file_actions_adddup2(&actions, e, 2)
        }
        for fd in closeInChild { posix_spawn_file_actions_addclose(&actions, fd) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in defaultSignals { sigaddset(&defaults, signal) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw RunSetupError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits for `pid`, retrying on EINTR; the raw wait status.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 0x7f00 } // not ours any more: report exit 127
        }
        return status
    }

    /// A pipe whose ends are closed on exec (`pipe2` is not visible to Swift through Glibc);
    /// the child gets the ends it needs through dup2, which clears the flag on the copy.
    static func makePipe() throws -> [Int32] {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw RunSetupError("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return fds
    }

    /// Runs a tool to completion with `input` on stdin, collecting stdout and stderr;
    /// killed after `timeout` seconds.
    public static func run(_ argv: [String], input: String? = nil, timeout: Double = 30,
                           environment: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]) throws -> ToolOutput {
        let inPipe = try makePipe()
        let outPipe: [Int32], errPipe: [Int32]
        do { outPipe = try makePipe() } catch {
            for fd in inPipe { close(fd) }
            throw error
        }
        do { errPipe = try makePipe() } catch {
            for fd in inPipe + outPipe { close(fd) }
            throw error
        }
        let pid: pid_t
        do {
            pid = try start(argv, environment: environment, stdio: (inPipe[0], outPipe[1], errPipe[1]))
        } catch {
            for fd in inPipe + outPipe + errPipe { close(fd) }
            throw error
        }
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        if let input {
            // Scripts are small (a ruleset is a few hundred bytes), well under a pipe's buffer.
            let bytes = Array(input.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.write(inPipe[1], $0.baseAddress, $0.count) }
                if n <= 0 { break }
                offset += n
            }
        }
        close(inPipe[1])

        var out = [UInt8](), err = [UInt8]()
        var open: [Int32] = [outPipe[0], errPipe[0]]
        let deadline = Date().addingTimeInterval(timeout)
        var killed = false
        var buffer = [UInt8](repeating: 0, count: 16384)
        while !open.isEmpty {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 {
                kill(pid, SIGKILL)
                killed = true
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(remaining, 1) * 1000) + 1)
            if ready < 0 && errno != EINTR { break }
            for p in fds where p.revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                if n <= 0 {
                    open.removeAll { $0 == p.fd }
                } else if p.fd == outPipe[0] {
                    if out.count < outputLimit { out += buffer[0..<n] }
                } else if err.count < outputLimit {
                    err += buffer[0..<n]
                }
            }
        }
        close(outPipe[0]); close(errPipe[0])
        let status = ExitStatus(waitStatus: wait(pid))
        if killed { throw RunSetupError("\(argv.joined(separator: " ")) did not finish within \(Int(timeout)) s") }
        return ToolOutput(status: status, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}
