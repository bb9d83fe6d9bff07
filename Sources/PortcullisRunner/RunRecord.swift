import Foundation

/// The state record of one run (`/run/portcullis/runs/<namespace>.json`), written before
/// anything is created and removed last, so that the next `run` can tell a crashed run's
/// leftovers (runner dead) from a live run's.
public struct RunRecord: Codable, Hashable, Sendable {
    public var names: RunNames
    public var sandboxID: String
    /// The sandbox end's address, registered in the sandbox's `source_addresses`.
    public var address: String
    public var subnet: String
    public var runnerPID: Int32
    /// The runner's start time in clock ticks since boot (/proc/PID/stat field 22), so a
    /// reused PID is not taken for the runner.
    public var runnerStart: UInt64?
    /// The sandbox was made by `--new` (and is deleted at exit unless `keep`).
    public var createdSandbox: Bool
    public var keep: Bool

    public init(names: RunNames, sandboxID: String, lease: Lease, runnerPID: Int32, runnerStart: UInt64?, createdSandbox: Bool, keep: Bool) {
        self.names = names
        self.sandboxID = sandboxID
        self.address = lease.sandboxText
        self.subnet = lease.subnet.description
        self.runnerPID = runnerPID
        self.runnerStart = runnerStart
        self.createdSandbox = createdSandbox
        self.keep = keep
    }
}

/// The directory of run records, guarded by one lock file that every runner holds while
/// it sweeps and sets up (so two runners never pick the same address or name).
public struct RunRecordStore: Sendable {
    public static let defaultDirectory = "/run/portcullis/runs"
    public let directory: String

    public init(directory: String = RunRecordStore.defaultDirectory) { self.directory = directory }

    /// Takes the lock (blocking, bounded by the other runner's setup); returns its descriptor.
    public func lock() throws -> Int32 {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let fd = open(directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RunSetupError("cannot open \(directory)/.lock: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX) == 0 else {
            close(fd)
            throw RunSetupError("cannot lock \(directory)/.lock: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    public func unlock(_ fd: Int32) {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }

    public func write(_ record: RunRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(record)
        let path = record.names.recordPath(in: directory)
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]),
              rename(temporary, path) == 0 else {
            throw RunSetupError("cannot write the run record \(path)")
        }
    }

    public func remove(_ names: RunNames) {
        unlink(names.recordPath(in: directory))
    }

    /// Every readable record (an unreadable file is skipped; its leftovers are then found
    /// by name as orphans).
    public func all() -> [RunRecord] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return entries.filter { $0.hasSuffix(".json") }.prefix(4096).compactMap { name in
            guard let data = FileManager.default.contents(atPath: directory + "/" + name), data.count < 65536 else { return nil }
            return try? JSONDecoder().decode(RunRecord.self, from: data)
        }
    }
}

/// Whether a run's runner is still alive.
public enum RunnerLiveness {
    /// The start time of a process (field 22 of /proc/PID/stat), or nil when there is none.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        return parseStartTime(String(decoding: data, as: UTF8.self))
    }

    /// Field 22 of a /proc/PID/stat line; the command name (field 2) may hold spaces and
    /// parentheses, so counting starts after the last `)`.
    public static func parseStartTime(_ stat: String) -> UInt64? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ")": field 3 (state) is fields[0], so field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    public static func isAlive(_ record: RunRecord) -> Bool {
        guard record.runnerPID > 0, let start = startTime(of: record.runnerPID) else { return false }
        return record.runnerStart.map { $0 == start } ?? true
    }
}

/// What the next run removes before it starts: records whose runner is dead, and runner-made
/// namespaces, links and tables that no live run's record names.
public struct StaleSweep: Hashable, Sendable {
    public var staleRecords: [RunRecord] = []
    public var orphans: [RunNames] = []

    public static func plan(records: [RunRecord], isAlive: (RunRecord) -> Bool, host: HostNetwork) -> StaleSweep {
        var sweep = StaleSweep()
        var claimed = Set<String>()
        for record in records {
            claimed.insert(record.names.suffix)
            if !isAlive(record) { sweep.staleRecords.append(record) }
        }
        sweep.orphans = host.runnerSuffixes.subtracting(claimed).sorted().compactMap { RunNames(suffix: $0) }
        return sweep
    }
}

/// A failure while making or removing the run's host state (exit 1).
public struct RunSetupError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
