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

        .testTarget(name: "PortcullisPolicyTests", dependencies: ["PortcullisPolicy"]),
        .testTarget(name: "PortcullisCLITests", dependencies: ["PortcullisCLI", "PortcullisPolicy"]),
    ]
)
