// `swift run -c release --package-path Benchmarks portcullis-store-bench [--events N] [postgres://…]`
// ingests N (default 1,000,000) synthetic audit events in batches of 1,000 into SQLite (a temp file)
// and, when a URL is given, PostgreSQL (a fresh schema), then times a filtered audit page
// (also with a host filter, and tenant-wide) and a 7-day suggestions tally, checks that
// nothing was lost, and prints a table.
import Foundation
import Logging
import PortcullisModel
import PortcullisPolicy
import PortcullisStore

struct Config {
    var events = 1_000_000
    var postgresURL: String?

    init(arguments: [String]) {
        var rest = arguments.dropFirst()
        while let arg = rest.popFirst() {
            if arg == "--events", let n = rest.popFirst().flatMap(Int.init) { events = n } else { postgresURL = arg }
        }
    }
}

struct Result {
    let backend: String
    let eventsPerSecond: Double
    let pageMs: Double
    let hostPageMs: Double
    let tenantPageMs: Double
    let tallyMs: Double
    let windowEvents: Int
}

let batchSize = 1_000
let sandboxes = 100
let day: Int64 = 86_400_000
let now = Timestamp(milliseconds: 1_760_000_000_000)

/// Event `i`: 14 days of traffic; one event in five belongs to `sbx_hot`, so it has
/// about 100k events in the last 7 days of a 1M run. One in ten is a reject.
func event(_ i: Int, total: Int) -> AuditEvent {
    let sandbox = i % 5 == 0 ? "sbx_hot" : "sbx_\(i % sandboxes)"
    let host = "h\(i % 500).example\(i % 7).com"
    let reject = i % 10 == 3
    let time = now.adding(milliseconds: -14 * day + Int64(i) * (14 * day) / Int64(max(total, 1)))
    return AuditEvent(time: time, tenantID: "ten_bench", sandboxID: sandbox, client: "100.64.0.\(i % 250):\(40000 + i % 20000)",
                      via: .connect, host: host, sni: host, address: "93.184.216.\(i % 250)", port: i % 3 == 0 ? 80 : 443,
                      method: nil, path: nil, action: reject ? .reject : .allow, wouldReject: false,
                      ruleID: reject ? nil : "rul_\(i % 40)", rejectedBy: reject ? "default-deny" : nil,
                      reason: reject ? "no rule allows this host" : "allowed by rule", status: reject ? 403 : 200,
                      bytesUp: Int64(i % 4096), bytesDown: Int64(i % 65536), durationMs: Int64(i % 900), policyVersion: 7)
}

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

func run(_ name: String, _ store: any Store, events total: Int) async throws -> Result {
    var ingest = 0.0
    var i = 0
    var lastID = 0
    while i < total {
        let n = min(batchSize, total - i)
        let batch = (i..<(i + n)).map { event($0, total: total) }
        var written: [AuditEvent] = []
        ingest += try await seconds { written = try await store.append(batch) }
        // No loss: every event comes back with an id, ids only grow.
        let ids = written.map { Int($0.id?.dropFirst(4) ?? "") ?? 0 }
        guard written.count == n, ids.allSatisfy({ $0 > 0 }), zip(ids, ids.dropFirst()).allSatisfy({ $0 < $1 }),
              ids[0] > lastID else { fatalError("\(name): batch at \(i) came back without increasing ids") }
        lastID = ids[n - 1]
        i += n
        if i % 100_000 == 0 { FileHandle.standardError.write(Data("\(name): \(i) events\n".utf8)) }
    }
    let stored = try await store.count()
    guard stored == total else { fatalError("\(name): \(stored) events stored of \(total)") }
    var pages: [Double] = []
    var hostPages: [Double] = []
    var tenantPages: [Double] = []
    var tallies: [Double] = []
    var windowEvents = 0
    // sbx_hot has no rejects at all, so these pages scan the sandbox's whole range: the worst case.
    let page = AuditQuery(tenantID: "ten_bench", sandboxID: "sbx_hot", action: "reject", limit: 100)
    let hostPage = AuditQuery(tenantID: "ten_bench", sandboxID: "sbx_hot", action: "reject", host: "h5.example5.com",
                              limit: 100)
    // Tenant-wide, selective: about 57 matching events in 1M, so the page also scans everything.
    let tenantPage = AuditQuery(tenantID: "ten_bench", action: "reject", host: "h3.example3.com", limit: 100)
    for _ in 0..<5 {
        pages.append(try await seconds { _ = try await store.query(page) })
        hostPages.append(try await seconds { _ = try await store.query(hostPage) })
        tenantPages.append(try await seconds { _ = try await store.query(tenantPage) })
        tallies.append(try await seconds {
            let t = try await store.tally(tenantID: "ten_bench", sandboxID: "sbx_hot", since: now.adding(milliseconds: -7 * day))
            windowEvents = t.reduce(0) { $0 + $1.count }
        })
    }
    return Result(backend: name, eventsPerSecond: Double(total) / ingest, pageMs: median(pages) * 1000,
                  hostPageMs: median(hostPages) * 1000, tenantPageMs: median(tenantPages) * 1000, tallyMs: median(tallies) * 1000, windowEvents: windowEvents)
}

let config = Config(arguments: CommandLine.arguments)
let logger = Logger(label: "portcullis.store.bench")
#if DEBUG
let buildKind = "debug"
#else
let buildKind = "release"
#endif
var results: [Result] = []

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-store-bench-\(UUID().uuidString)")
let sqlite = try await SQLStore.sqlite(path: dir.appendingPathComponent("bench.sqlite").path, logger: logger)
results.append(try await run("SQLite", sqlite, events: config.events))
try await sqlite.shutdown()
try? FileManager.default.removeItem(at: dir)

if let url = config.postgresURL {
    let schema = "bench_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    let postgres = try await SQLStore.postgres(url: url, schema: schema, logger: logger)
    results.append(try await run("PostgreSQL", postgres, events: config.events))
    try await postgres.shutdown()
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
print("portcullis-store-bench (\(buildKind) build, \(config.events) events, batches of \(batchSize))")
print("| backend    | ingest events/s (goal ≥ 50,000) | filtered page ms (goal < 50) | + host filter ms | tenant-wide reject+host ms | 7-day tally ms (goal < 500) | events in window |")
print("| ---------- | ------------------------------- | ---------------------------- | ---------------- | -------------------------- | --------------------------- | ---------------- |")
for r in results {
    print("| \(pad(r.backend, 10)) | \(pad(String(format: "%.0f", r.eventsPerSecond), 31)) | \(pad(String(format: "%.2f", r.pageMs), 28)) | \(pad(String(format: "%.2f", r.hostPageMs), 16)) | \(pad(String(format: "%.2f", r.tenantPageMs), 26)) | \(pad(String(format: "%.1f", r.tallyMs), 27)) | \(pad(String(r.windowEvents), 16)) |")
}
