/// How a process ended, from its raw wait status, and the status the runner exits with.
public enum ExitStatus: Hashable, Sendable {
    case exited(Int32)
    case signalled(Int32)

    /// Decodes a `waitpid` status (Glibc's WIFEXITED/WEXITSTATUS/WTERMSIG are macros Swift
    /// cannot see): low 7 bits 0 means exited with the next byte as code.
    public init(waitStatus status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signalled(low)
        }
    }

    /// The runner's own exit status: the command's, or 128+N when signal N killed it.
    public var runnerCode: Int32 {
        switch self {
        case .exited(let code): code
        case .signalled(let signal): 128 + signal
        }
    }

    public var succeeded: Bool { self == .exited(0) }
}
