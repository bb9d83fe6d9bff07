import Foundation
import NIOCore

/// CPU time per thread of this process, from `/proc/self/task/*/stat` (user + system, in
/// clock ticks): a request's CPU cost that a shared machine's load does not change the way
/// it changes requests/s. The gateway's thread is the busiest one that is neither the
/// origin's nor the load generator's (the bench knows their thread ids).
struct ThreadCPU {
    /// CPU seconds per thread id.
    let seconds: [Int: Double]

    static func now() -> ThreadCPU {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var seconds: [Int: Double] = [:]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for task in tasks {
            guard let tid = Int(task), let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            seconds[tid] = (user + system) / ticks
        }
        return ThreadCPU(seconds: seconds)
    }

    /// CPU seconds since `earlier`: the whole process, and the busiest thread not in `excluded`.
    func since(_ earlier: ThreadCPU, excluding excluded: Set<Int>) -> (process: Double, busiest: Double) {
        var total = 0.0, busiest = 0.0
        for (tid, s) in seconds {
            let d = s - (earlier.seconds[tid] ?? 0)
            total += d
            if !excluded.contains(tid) { busiest = max(busiest, d) }
        }
        return (total, busiest)
    }

    /// CPU seconds of one thread since `earlier`.
    func thread(_ tid: Int, since earlier: ThreadCPU) -> Double { (seconds[tid] ?? 0) - (earlier.seconds[tid] ?? 0) }

    /// The kernel's id of the thread that runs `loop`.
    static func threadID(of loop: any EventLoop) async throws -> Int {
        // /proc/thread-self links to "<pid>/task/<tid>" for the thread that reads it.
        try await loop.submit {
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")
            guard let tid = link.split(separator: "/").last.flatMap({ Int($0) }) else { throw BenchError("no thread id in \(link)") }
            return tid
        }.get()
    }
}
