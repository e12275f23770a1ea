// swift-tools-version: 6.2
import PackageDescription

// One set of settings for every target: Swift 6 mode, plus the upcoming features that keep the
// public surface honest (the C module never leaks into public API).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "swift-pgstore",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PGClient", targets: ["PGClient"]),
        .library(name: "PGStore", targets: ["PGStore"]),
        // Only apps that use this product build Hummingbird.
        .library(name: "PGStoreHummingbird", targets: ["PGStoreHummingbird"]),
        .executable(name: "pgstore-demo", targets: ["PGStoreDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(
            name: "PGClient",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PGStore",
            dependencies: [
                "PGClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PGStoreHummingbird",
            dependencies: [
                "PGStore",
                "PGClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PGStoreDemo",
            dependencies: [
                "PGStoreHummingbird",
                "PGStore",
                "PGClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/HummingbirdDemo",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PGTestSupport",
            path: "Tests/PGTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PGStoreHummingbirdTests",
            dependencies: [
                "PGTestSupport",
                "PGStoreDemo",
                "PGStoreHummingbird",
                "PGStore",
                "PGClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PGClientTests",
            dependencies: ["PGClient", "PGTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PGStoreTests",
            dependencies: [
                "PGTestSupport",
                "PGStore",
                "PGClient",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
