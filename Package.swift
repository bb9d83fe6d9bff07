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
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"6.0.0"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Ring 1: the pure policy engine. No dependencies, no I/O, no clock.
        .target(name: "PortcullisPolicy"),

        // Records and repository protocols shared by the store, the gateway and the API.
        .target(name: "PortcullisModel", dependencies: ["PortcullisPolicy"]),

        // The control plane's operations, over the store: no HTTP here.
        .target(
            name: "PortcullisControl",
            dependencies: ["PortcullisModel", "PortcullisPolicy", .product(name: "Crypto", package: "swift-crypto")]
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
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

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

        // The store: one SQLKit implementation over SQLite and PostgreSQL, and an in-memory one.
        .target(
            name: "PortcullisStore",
            dependencies: [
                "PortcullisModel",
                "PortcullisPolicy",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // `swift run -c release portcullis-store-bench [postgres-url]` prints the store's benchmark table.
        .executableTarget(
            name: "portcullis-store-bench",
            dependencies: [
                "PortcullisStore",
                "PortcullisModel",
                "PortcullisPolicy",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/StoreBenchmark"
        ),

        .testTarget(name: "PortcullisPolicyTests", dependencies: ["PortcullisPolicy"]),
        .testTarget(name: "PortcullisCLITests", dependencies: ["PortcullisCLI", "PortcullisPolicy"]),
        .testTarget(name: "PortcullisControlTests", dependencies: ["PortcullisControl", "PortcullisModel", "PortcullisPolicy"]),
        .testTarget(
            name: "PortcullisServerTests",
            dependencies: [
                "PortcullisServer", "PortcullisControl", "PortcullisStore", "PortcullisModel", "PortcullisPolicy",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "PortcullisStoreTests",
            dependencies: [
                "PortcullisStore",
                "PortcullisModel",
                "PortcullisPolicy",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
