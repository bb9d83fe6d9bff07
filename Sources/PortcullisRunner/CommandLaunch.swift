import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The account the command runs as.
public struct RunUser: Hashable, Sendable {
    public let name: String
    public let uid: UInt32
    public let gid: UInt32
    public let home: String

    public init(name: String, uid: UInt32, gid: UInt32, home: String) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home
    }

    /// `--user`, else `$SUDO_USER` when set, else the invoking user (by uid).
    public static func choose(flag: String?, environment: [String: String], invokingUID: UInt32) -> String {
        if let flag { return flag }
        if let sudo = environment["SUDO_USER"], !sudo.isEmpty { return sudo }
        return String(invokingUID)
    }

    /// Looks a user up by name or uid in the password database.
    public static func lookup(_ text: String) throws(RunInputError) -> RunUser {
        var entry: UnsafeMutablePointer<passwd>?
        if let uid = UInt32(text) { entry = getpwuid(uid) } else { entry = getpwnam(text) }
        guard let p = entry?.pointee else { throw RunInputError("--user: no such user \(text)") }
        return RunUser(name: String(cString: p.pw_name), uid: p.pw_uid, gid: p.pw_gid, home: String(cString: p.pw_dir))
    }
}

/// How the command is started: `ip netns exec` into the namespace (which also bind-mounts
/// its resolv.conf), then `setpriv` to drop to the user with no capabilities at all
/// (bounding set emptied, so not even a set-uid binary gets CAP_NET_ADMIN back), no new
/// privileges, and SIGKILL when the runner dies.
public struct CommandLaunch: Hashable, Sendable {
    /// The signals the runner forwards to the command.
    public static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
    /// Variables the command must not inherit (the API key stays with the runner).
    public static let withheld: Set<String> = ["PORTCULLIS_TOKEN"]

    public let argv: [String]
    public let environment: [String]

    public init(ip: String, setpriv: String, namespace: String, user: RunUser, command: [String], environment: [String: String]) {
        argv = [ip, "netns", "exec", namespace, setpriv,
                "--reuid=\(user.uid)", "--regid=\(user.gid)", "--init-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--pdeathsig=KILL", "--"] + command
        var env = environment.filter { !CommandLaunch.withheld.contains($0.key) }
        env["PORTCULLIS_NETNS"] = namespace
        if user.uid != 0 || env["HOME"] == nil {
            env["HOME"] = user.home
            env["USER"] = user.name
            env["LOGNAME"] = user.name
        }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        self.environment = env.map { "\($0.key)=\($0.value)" }.sorted()
    }
}

/// Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the command; a signal that arrives
/// before the command exists is kept, so the runner can stop before starting it.
public final class SignalForwarder: @unchecked Sendable {
    private let lock = NSLock()
    private var child: pid_t = 0
    private var pendingSignal: Int32 = 0
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "portcullis.run.signals")

    public init() {
        for signalNumber in CommandLaunch.forwarded {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [weak self] in self?.received(signalNumber) }
            source.resume()
            sources.append(source)
        }
    }

    private func received(_ signalNumber: Int32) {
        lock.lock()
        let pid = child
        if pid == 0 && pendingSignal == 0 { pendingSignal = signalNumber }
        lock.unlock()
        if pid > 0 { kill(pid, signalNumber) }
    }

    /// The first signal received while no command was running, or 0.
    public var pending: Int32 {
        lock.lock()
        defer { lock.unlock() }
        return pendingSignal
    }

    func setChild(_ pid: pid_t) {
        lock.lock()
        child = pid
        lock.unlock()
    }

    /// Starts the command on a thread of its own, which then waits for it: the parent-death
    /// signal fires when the *thread* that started a child ends, so that thread must live
    /// exactly as long as the command.
    public func run(_ launch: CommandLaunch) async throws -> ExitStatus {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ExitStatus, Error>) in
            let thread = Thread { [self] in
                let pid: pid_t
                do {
                    pid = try Spawn.start(launch.argv, environment: launch.environment, defaultSignals: CommandLaunch.forwarded)
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                setChild(pid)
                let status = Spawn.wait(pid)
                setChild(-1)
                continuation.resume(returning: ExitStatus(waitStatus: status))
            }
            thread.start()
        }
    }
}
