// swift-tools-version: 6.1
// The benchmarks, a package of their own so that `swift build` at the root (and CI) never
// compiles them. They link the root package's library products, as any user would:
//
//   swift run -c release --package-path Benchmarks portcullis-policy-bench
//   swift run -c release --package-path Benchmarks portcullis-store-bench [postgres-url]
//   Benchmarks/GatewayBench/run.sh     Benchmarks/DNSBench/run.sh     Benchmarks/SandboxBench.sh
//
// Its build folder is Benchmarks/.build unless `--scratch-path` says otherwise; give it a
// folder of its own (the scripts' SCRATCH), never the root package's `.build`.
import PackageDescription

/// A library product of the root package.
func portcullis(_ name: String) -> Target.Dependency { .product(name: name, package: "portcullis") }
func nio(_ name: String) -> Target.Dependency { .product(name: name, package: "swift-nio") }
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
    name: "portcullis-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // The root package: Portcullis itself (its `portcullis` executable builds here too).
        .package(name: "portcullis", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // Decisions/s at 10 / 1,000 / 100,000 rules vs the naive scan, compile time, the
        // Public Suffix List's parse, the tenant-wide change curve.
        .executableTarget(name: "portcullis-policy-bench", dependencies: [portcullis("PortcullisPolicy")],
                          path: "PolicyBenchmark"),

        // Audit ingest, a filtered page, 7-day suggestions; SQLite, or PostgreSQL given a URL.
        .executableTarget(name: "portcullis-store-bench",
                          dependencies: ["PortcullisStore", "PortcullisModel", "PortcullisPolicy"].map(portcullis) + [logging],
                          path: "StoreBenchmark", exclude: ["RESULTS.md"]),

        // `GatewayBench/run.sh`: the data plane against a naive relay, Squid and tinyproxy;
        // `InspectionBench/run.sh`: terminated TLS against Squid ssl-bump and mitmproxy.
        .executableTarget(name: "portcullis-gateway-bench",
                          dependencies: ["PortcullisGateway", "PortcullisModel", "PortcullisPolicy", "PortcullisTLS",
                                         "PortcullisKeys"].map(portcullis)
                              + ["NIOCore", "NIOPosix", "NIOHTTP1"].map(nio) + [logging],
                          path: "GatewayBench", exclude: ["run.sh", "alternate.sh", "idle.sh", "RESULTS.md"]),

        // `CredentialBench/run.sh`: injected requests/s against terminated ones, and the
        // response scrubber's throughput (issue 18).
        .executableTarget(name: "portcullis-credential-bench",
                          dependencies: ["PortcullisGateway", "PortcullisModel", "PortcullisPolicy", "PortcullisProxy",
                                         "PortcullisTLS", "PortcullisKeys"].map(portcullis)
                              + ["NIOCore", "NIOPosix", "NIOHTTP1"].map(nio) + [logging, .product(name: "NIOSSL", package: "swift-nio-ssl")],
                          path: "CredentialBench", exclude: ["run.sh", "alternate.sh", "RESULTS.md"]),

        // `DNSBench/run.sh`: the DNS gateway against dnsmasq (dnsperf as the load).
        .executableTarget(name: "portcullis-dns-bench",
                          dependencies: ["PortcullisGateway", "PortcullisDNS", "PortcullisModel", "PortcullisPolicy"].map(portcullis)
                              + ["NIOCore", "NIOPosix"].map(nio) + [logging],
                          path: "DNSBench", exclude: ["run.sh", "RESULTS.md"]),
    ]
)
