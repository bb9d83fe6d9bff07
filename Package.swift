// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "portcullis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portcullis", targets: ["portcullis"]),
        .library(name: "PortcullisPolicy", targets: ["PortcullisPolicy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Ring 1: the pure policy engine. No dependencies, no I/O, no clock.
        .target(name: "PortcullisPolicy"),

        // Records and repository protocols shared by the store, the gateway and the API.
        .target(name: "PortcullisModel", dependencies: ["PortcullisPolicy"]),

        // The command-line front end (commands live in a library so tests can drive them).
        .target(
            name: "PortcullisCLI",
            dependencies: [
                "PortcullisPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "portcullis", dependencies: ["PortcullisCLI"]),

        // `swift run -c release portcullis-policy-bench` prints the engine's benchmark table.
        .executableTarget(
            name: "portcullis-policy-bench",
            dependencies: ["PortcullisPolicy"],
            path: "Benchmarks/PolicyBenchmark"
        ),

        // Ring 2: wire formats on NIOCore alone (ClientHello peek, request targets, SOCKS5 auth, rejections).
        .target(
            name: "PortcullisWire",
            dependencies: ["PortcullisPolicy", .product(name: "NIOCore", package: "swift-nio")]
        ),

        // Ring 3: the proxy handlers and state machines; never NIOPosix. One seam: `EgressGate`.
        .target(
            name: "PortcullisProxy",
            dependencies: [
                "PortcullisPolicy", "PortcullisModel", "PortcullisWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSOCKS", package: "swift-nio-extras"),
            ]
        ),

        // Ring 4: the data-plane runtime: listeners, resolver, dialler, snapshots, audit queue, metrics.
        .target(
            name: "PortcullisGateway",
            dependencies: [
                "PortcullisPolicy", "PortcullisModel", "PortcullisWire", "PortcullisProxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSOCKS", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // `Benchmarks/GatewayBench/run.sh`: the data plane against Squid and tinyproxy.
        .executableTarget(
            name: "portcullis-gateway-bench",
            dependencies: [
                "PortcullisGateway", "PortcullisPolicy", "PortcullisModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/GatewayBench",
            exclude: ["run.sh"]
        ),

        .testTarget(name: "PortcullisWireTests", dependencies: ["PortcullisWire", "PortcullisPolicy",
            .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "PortcullisProxyTests",
            dependencies: [
                "PortcullisProxy", "PortcullisWire", "PortcullisPolicy", "PortcullisModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "PortcullisGatewayTests",
            dependencies: [
                "PortcullisGateway", "PortcullisProxy", "PortcullisWire", "PortcullisPolicy", "PortcullisModel",
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
        .testTarget(name: "PortcullisPolicyTests", dependencies: ["PortcullisPolicy"]),
        .testTarget(name: "PortcullisCLITests", dependencies: ["PortcullisCLI", "PortcullisPolicy"]),
    ]
)
