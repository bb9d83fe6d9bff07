// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "portcullis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portcullis", targets: ["portcullis"]),
        .library(name: "PortcullisPolicy", targets: ["PortcullisPolicy"]),
        // What the benchmark package (Benchmarks/Package.swift, built apart) links against.
        .library(name: "PortcullisModel", targets: ["PortcullisModel"]),
        .library(name: "PortcullisStore", targets: ["PortcullisStore"]),
        .library(name: "PortcullisDNS", targets: ["PortcullisDNS"]),
        .library(name: "PortcullisGateway", targets: ["PortcullisGateway"]),
        .library(name: "PortcullisTLS", targets: ["PortcullisTLS"]),
        .library(name: "PortcullisKeys", targets: ["PortcullisKeys"]),
        // For the credential benchmark (Benchmarks/CredentialBench): the response scrubber.
        .library(name: "PortcullisProxy", targets: ["PortcullisProxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"6.0.0"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client", from: "1.5.0"),
    ],
    targets: [
        // Ring 1: the pure policy engine. No dependencies, no I/O, no clock.
        // Optimised in every configuration: it decides every connection and request, and the
        // tests hold its decision path to no allocation per request, which only holds for
        // optimised code (-Onone keeps generic stdlib calls unspecialised).
        .target(name: "PortcullisPolicy", swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),

        // The audit entry: what every ingress writes, seen by the data plane without the repositories.
        .target(name: "PortcullisAudit", dependencies: ["PortcullisPolicy"]),

        // Records and repository protocols shared by the store, the gateway and the API.
        .target(name: "PortcullisModel", dependencies: ["PortcullisPolicy", "PortcullisAudit"]),

        // Secrets at rest (AES-GCM under the secrets key file) and the sandbox CAs and their leaves: no I/O but the key file.
        .target(
            name: "PortcullisKeys",
            dependencies: [
                "PortcullisModel", "PortcullisPolicy",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),

        // The control plane's operations, over the store: no HTTP here.
        .target(
            name: "PortcullisControl",
            dependencies: ["PortcullisModel", "PortcullisPolicy", "PortcullisKeys", .product(name: "Crypto", package: "swift-crypto")]
        ),

        // Types, server stubs and client generated from Sources/PortcullisAPI/openapi.yaml.
        .target(
            name: "PortcullisAPI",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),

        // The HTTP control plane (Hummingbird), serving the generated API.
        .target(
            name: "PortcullisServer",
            dependencies: [
                "PortcullisAPI", "PortcullisControl", "PortcullisModel", "PortcullisPolicy",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The dashboard's sources; scripts/embed-dashboard compiles them into DashboardAssets+Files.swift.
            exclude: ["Dashboard"]
        ),

        // The composition root of `portcullis serve`: store, control plane, API, data plane.
        .target(
            name: "PortcullisApp",
            dependencies: [
                "PortcullisServer", "PortcullisGateway", "PortcullisStore", "PortcullisControl", "PortcullisModel", "PortcullisPolicy",
                "PortcullisKeys", "PortcullisTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // The command-line front end (commands live in a library so tests can drive them).
        .target(
            name: "PortcullisCLI",
            dependencies: [
                "PortcullisPolicy", "PortcullisApp", "PortcullisAPI", "PortcullisRunner",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "portcullis", dependencies: ["PortcullisCLI"]),

        // `portcullis run`: plan (pure) and executors (ip, nft, setpriv via posix_spawn). Foundation only.
        .target(name: "PortcullisRunner"),

        // The store: one SQLKit implementation over SQLite and PostgreSQL, and an in-memory one.
        .target(
            name: "PortcullisStore",
            dependencies: [
                "PortcullisModel",
                "PortcullisPolicy",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Ring 2: wire formats on NIOCore alone (ClientHello peek, request targets, SOCKS5 auth, rejections).
        .target(
            name: "PortcullisWire",
            dependencies: ["PortcullisPolicy", .product(name: "NIOCore", package: "swift-nio")]
        ),

        // Ring 2: DNS messages (RFC 1035, EDNS0), the query planner and the answer cache; no sockets.
        .target(
            name: "PortcullisDNS",
            dependencies: ["PortcullisPolicy", .product(name: "NIOCore", package: "swift-nio")]
        ),

        // Ring 3: the proxy handlers and state machines; never NIOPosix. The runtime only through ProxyEnvironment.
        .target(
            name: "PortcullisProxy",
            dependencies: [
                "PortcullisPolicy", "PortcullisAudit", "PortcullisWire", "CPortcullisSearch",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSOCKS", package: "swift-nio-extras"),
            ]
        ),

        // The C library's memmem (a GNU extension Glibc does not expose to Swift), for scrubbing secrets.
        .target(name: "CPortcullisSearch"),

        // Ring 4: the TLSProvider of terminated connections: leaves from the sandbox CAs (a bounded
        // LRU of NIOSSL contexts) and the verified upstream leg (system roots plus --upstream-ca).
        .target(
            name: "PortcullisTLS",
            dependencies: [
                "PortcullisProxy", "PortcullisModel", "PortcullisPolicy", "PortcullisKeys",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // The socket calls Glibc does not expose (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST); no system includes in its header.
        .target(name: "CPortcullisNet"),

        // Ring 4: the data-plane runtime: listeners, resolver, dialler, snapshots, audit queue, metrics.
        .target(
            name: "PortcullisGateway",
            dependencies: [
                "PortcullisPolicy", "PortcullisModel", "PortcullisWire", "PortcullisProxy", "PortcullisDNS", "CPortcullisNet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSOCKS", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .testTarget(name: "PortcullisWireTests", dependencies: ["PortcullisWire", "PortcullisPolicy",
            .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "PortcullisProxyTests",
            dependencies: [
                "PortcullisProxy", "PortcullisWire", "PortcullisPolicy", "PortcullisAudit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "PortcullisGatewayTests",
            dependencies: [
                "PortcullisGateway", "PortcullisDNS", "PortcullisProxy", "PortcullisWire", "PortcullisPolicy", "PortcullisModel",
                "PortcullisRunner", "PortcullisKeys", "PortcullisTLS", "PortcullisTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "PortcullisTLSTests",
            dependencies: [
                "PortcullisTLS", "PortcullisKeys", "PortcullisProxy", "PortcullisModel", "PortcullisPolicy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "PortcullisDNSTests", dependencies: ["PortcullisDNS", "PortcullisPolicy",
            .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "PortcullisPolicyTests", dependencies: ["PortcullisPolicy", "CAllocationCounter"]),
        // What several test targets share: a process runner, waits woken by changes (no
        // polling), an in-memory audit log.
        .target(name: "PortcullisTestSupport", dependencies: ["PortcullisModel", "PortcullisPolicy", "PortcullisRunner"],
                path: "Tests/PortcullisTestSupport"),
        // Counts heap allocations per thread (the no-allocation tests).
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        .testTarget(name: "PortcullisCLITests", dependencies: ["PortcullisCLI", "PortcullisPolicy", "PortcullisRunner", "PortcullisAPI"]),
        .testTarget(name: "PortcullisRunnerTests", dependencies: ["PortcullisRunner"]),
        .testTarget(name: "PortcullisControlTests", dependencies: ["PortcullisControl", "PortcullisModel", "PortcullisPolicy",
                                                                "PortcullisKeys", "PortcullisStore"]),
        .testTarget(name: "PortcullisKeysTests", dependencies: ["PortcullisKeys", "PortcullisModel", "PortcullisPolicy", "PortcullisStore",
            .product(name: "X509", package: "swift-certificates"), .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftASN1", package: "swift-asn1"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "PortcullisServerTests",
            dependencies: [
                "PortcullisServer", "PortcullisAPI", "PortcullisControl", "PortcullisStore", "PortcullisModel", "PortcullisPolicy",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PortcullisStoreTests",
            dependencies: [
                "PortcullisStore",
                "PortcullisModel",
                "PortcullisPolicy",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
