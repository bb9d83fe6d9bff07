// `portcullis-credential-bench` (issue 18's benchmark row, beside issue 17's inspection
// benchmark): one process on loopback, three parts on event loops of their own — an HTTPS
// origin, the Portcullis gateway terminating TLS (a sandbox CA minted here, the origin's CA
// trusted for the upstream leg), and a load generator that CONNECTs through the gateway.
//
//   portcullis-credential-bench [--seconds S] [--concurrency N] [--rounds R] [--mib M] [--only LABEL]
//
// `--only terminated|injected` runs that label's request rounds alone, and `--mib 0` skips
// parts 2 and 3: a profile (`perf record`) of one path.
// 1. requests/s: keep-alive GETs over N terminated connections, for S seconds, alternating
//    R rounds of: sandbox `sbx_plain` (terminated by a rule, no credential) and sandbox
//    `sbx_inject` (each request carries its placeholder in Authorization; the gateway
//    replaces it with the secret, asks for identity encoding and scrubs the response).
// 2. scrubbing: one GET of an M MiB body (default 100) that holds the secret once per MiB,
//    as an upstream echoing it would, for each sandbox; bytes scanned per second.
// 3. the scrubber alone on the same body (no TLS, no sockets): bytes scanned per second.
// Each request round also reports CPU µs per response, of the gateway's event-loop thread and of
// the whole process (ThreadCPU.swift): a cost a shared machine's load does not move as it moves
// requests/s. One JSON line per measurement on stdout, and a summary table at the end.
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PortcullisGateway
import PortcullisKeys
import PortcullisModel
import PortcullisPolicy
import PortcullisProxy
import PortcullisTLS

let args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: String) -> String {
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let seconds = Double(option("--seconds", "5"))!
let concurrency = Int(option("--concurrency", "16"))!
let rounds = Int(option("--rounds", "3"))!
let mebibytes = Int(option("--mib", "100"))!
let only = option("--only", "")
let host = "bench.test"
let secret = "sk-bench-0123456789abcdef0123456789abcdef"
let placeholder = "pcx_" + String(repeating: "b", count: 32)

// Certificates: the origin's CA and leaf (minted with the sandbox-CA code, which makes
// exactly what is needed: a P-256 CA and a leaf for one host), and the sandbox's CA.
let originCA = try SandboxAuthorities.mint(sandboxID: "sbx_origin")
let originLeaf = try LeafCertificate.issue(for: DomainName(canonical: host), by: originCA)
let sandboxCA = try SandboxAuthorities.mint(sandboxID: "sbx_bench")

let originGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loadGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let originPort = try await BenchOrigin.start(group: originGroup, leaf: originLeaf, secret: secret)

// The gateway: both sandboxes terminate bench.test (inspect: true); sbx_inject has the credential.
let work = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-credential-bench-\(getpid())")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
let hostsFile = work.appendingPathComponent("hosts").path
try "127.0.0.1 \(host)\n".write(toFile: hostsFile, atomically: true, encoding: .utf8)
var config = GatewayConfiguration()
config.httpBind = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
config.socksBind = nil
config.hostsFilePath = hostsFile
config.useSystemResolver = false
config.maxConnections = 100_000
config.proxy.maxConnectionsPerSandbox = 100_000
config.auditQueueCapacity = 100_000
config.eventLoopThreads = Int(option("--threads", "1"))!
let pattern = try HostParser.parsePattern(host)
let guardExempt = AddressGuard(exemptions: [try HostParser.parseNetwork("127.0.0.0/8")])
let policy = CompiledPolicy(mode: .allowlist, rules: [Rule(id: "rul_bench", action: .allow, host: pattern, inspect: true)],
                            version: 1, addressGuard: guardExempt)
let binding = CredentialBinding(name: "bench", placeholder: placeholder, host: pattern, port: UInt16(originPort),
                                placement: .header(name: "Authorization", format: "Bearer {secret}"), secret: secret)
let snapshot = GatewaySnapshot(version: 1, sandboxes: [
    "sbx_plain": SandboxPolicy(sandboxID: "sbx_plain", tenantID: "ten_bench", proxyToken: "plain", policy: policy,
                               certificateAuthority: sandboxCA),
    "sbx_inject": SandboxPolicy(sandboxID: "sbx_inject", tenantID: "ten_bench", proxyToken: "inject", policy: policy,
                                credentials: [binding], certificateAuthority: sandboxCA),
])
var termination = TerminationSettings()
termination.upstreamTrust = UpstreamTrust(certificates: [try NIOSSLCertificate(bytes: originCA.certificateDER, format: .der)],
                                          useSystemRoots: false)
config.tls = SandboxTLS(settings: termination, snapshot: { snapshot })
var logger = Logger(label: "bench")
logger.logLevel = .warning
let audit = CountingAuditRepository()
let gateway = Gateway(configuration: config, registry: PolicyRegistry(snapshot, logger: logger), auditRepository: audit, logger: logger)

let clientTLS = try NIOSSLContext(configuration: {
    var c = TLSConfiguration.makeClientConfiguration()
    c.trustRoots = .certificates([try NIOSSLCertificate(bytes: sandboxCA.certificateDER, format: .der)])
    c.applicationProtocols = ["http/1.1"]
    return c
}())

struct Row { let label: String; let rate: Double }
var rates: [String: [Double]] = [:]
var scans: [String: [Double]] = [:]
/// CPU µs per response: the gateway's event-loop thread, and the whole process.
var gatewayCPU: [String: [Double]] = [:]
var processCPU: [String: [Double]] = [:]

try await withThrowingDiscardingTaskGroup { group in
    group.addTask { await gateway.audit.runWriters() }
    let bound = try await gateway.start()
    let proxyPort = bound.http!.port!
    let load = BenchLoad(group: loadGroup, proxyPort: proxyPort, target: "\(host):\(originPort)", tls: clientTLS,
                         secret: Data(secret.utf8), placeholder: Data(placeholder.utf8))
    say("{\"ready\": true, \"proxy\": \(proxyPort), \"origin\": \(originPort), \"seconds\": \(seconds), \"concurrency\": \(concurrency)}")
    // Warm-up: leaves issued, pools filled; not measured (only the label asked for, with --only).
    if only != "injected" {
        _ = try await load.requests(sandbox: "sbx_plain", authorization: nil, concurrency: concurrency, seconds: 1)
    }
    if only != "terminated" {
        _ = try await load.requests(sandbox: "sbx_inject", authorization: "Bearer \(placeholder)", concurrency: concurrency,
                                    seconds: 1)
    }
    // The gateway's thread is the busiest that is neither the origin's nor the load's.
    let originThread = try await ThreadCPU.threadID(of: originGroup.next())
    let loadThread = try await ThreadCPU.threadID(of: loadGroup.next())
    let benchThreads: Set<Int> = [originThread, loadThread]
    for round in 1...rounds {
        for (label, sandbox, authorization) in [("terminated", "sbx_plain", nil as String?),
                                                ("injected", "sbx_inject", "Bearer \(placeholder)")]
            where only.isEmpty || only == label {
            let before = ThreadCPU.now()
            let r = try await load.requests(sandbox: sandbox, authorization: authorization, concurrency: concurrency, seconds: seconds)
            let cpu = ThreadCPU.now().since(before, excluding: benchThreads)
            rates[label, default: []].append(r.rate)
            let gatewayMicros = cpu.busiest / Double(max(1, r.responses)) * 1e6
            let processMicros = cpu.process / Double(max(1, r.responses)) * 1e6
            let now = ThreadCPU.now()
            let originMicros = now.thread(originThread, since: before) / Double(max(1, r.responses)) * 1e6
            let loadMicros = now.thread(loadThread, since: before) / Double(max(1, r.responses)) * 1e6
            gatewayCPU[label, default: []].append(gatewayMicros)
            processCPU[label, default: []].append(processMicros)
            say("{\"mode\": \"requests\", \"label\": \"\(label)\", \"round\": \(round), \"rate\": \(Int(r.rate)), \"failures\": \(r.failures), "
                + String(format: "\"gateway_cpu_us\": %.1f, \"origin_cpu_us\": %.1f, \"load_cpu_us\": %.1f, \"process_cpu_us\": %.1f}",
                              gatewayMicros, originMicros, loadMicros, processMicros))
        }
    }
    for round in 1...rounds where mebibytes > 0 {
        for (label, sandbox, authorization) in [("terminated", "sbx_plain", nil as String?),
                                                ("injected", "sbx_inject", "Bearer \(placeholder)")] {
            let r = try await load.bulk(sandbox: sandbox, authorization: authorization, mebibytes: mebibytes)
            let perSecond = Double(r.bytes) / r.seconds
            scans[label, default: []].append(perSecond)
            say("{\"mode\": \"bulk\", \"label\": \"\(label)\", \"round\": \(round), \"bytes\": \(r.bytes), \"seconds\": \(r.seconds), "
                + "\"gib_per_s\": \(perSecond / Double(1 << 30)), \"secret_seen\": \(r.secretSeen), \"placeholders_seen\": \(r.placeholdersSeen)}")
        }
    }
    await gateway.stop()
}

var scanned: [Double] = []
for round in 1...rounds where mebibytes > 0 {
    let r = Scan.run(binding: binding, chunk: BenchOrigin.chunk(secret: secret), mebibytes: mebibytes)
    scanned.append(r.perSecond)
    say("{\"mode\": \"scan\", \"round\": \(round), \"gib_per_s\": \(r.perSecond / Double(1 << 30)), \"replaced\": \(r.replaced)}")
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
let plain = median(rates["terminated"] ?? []), injected = median(rates["injected"] ?? [])
say("")
say("requests/s (median of \(rounds) rounds of \(seconds) s, \(concurrency) keep-alive connections)")
say(String(format: "  terminated, no credential  %10.0f", plain))
say(String(format: "  injected (and scrubbed)    %10.0f   %.1f%% of terminated", injected, plain > 0 ? injected / plain * 100 : 0))
let plainCPU = median(gatewayCPU["terminated"] ?? []), injectedCPU = median(gatewayCPU["injected"] ?? [])
say("CPU µs per request (median): the gateway's thread, and the whole process (gateway, origin and load)")
say(String(format: "  terminated, no credential  %6.1f   %6.1f", plainCPU, median(processCPU["terminated"] ?? [])))
say(String(format: "  injected (and scrubbed)    %6.1f   %6.1f   gateway %.1f%% of terminated's rate by CPU", injectedCPU,
              median(processCPU["injected"] ?? []), injectedCPU > 0 ? plainCPU / injectedCPU * 100 : 0))
say("\(mebibytes) MiB body through terminated TLS, median of \(rounds)")
say(String(format: "  terminated, no credential  %8.2f GiB/s", median(scans["terminated"] ?? []) / Double(1 << 30)))
say(String(format: "  injected, scrubbed         %8.2f GiB/s scanned", median(scans["injected"] ?? []) / Double(1 << 30)))
say(String(format: "  the scrubber alone          %8.2f GiB/s scanned (64 KiB pieces)", median(scanned) / Double(1 << 30)))
say("audit entries written: \(audit.written()), of which credential-reflected: \(audit.reflected())")
try? FileManager.default.removeItem(at: work)
try await originGroup.shutdownGracefully()
try await loadGroup.shutdownGracefully()
