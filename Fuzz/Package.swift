// swift-tools-version: 6.2
import Foundation
import PackageDescription

// A path dependency is named after its folder, which is whatever the clone is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

// The libFuzzer target for everything a request's bytes reach before the database does. Its own
// package, built only by scripts/fuzz (with `-sanitize=fuzzer,address`, which links libFuzzer's
// runtime in), so neither users of the library nor the usual builds ever see it.
let package = Package(
    name: "swift-pgstore-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        // The harness signs and seals the layout of earlier releases itself (as the store no
        // longer does), with the same swift-crypto the store resolves.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "pgstore-fuzz",
            dependencies: [
                "CLibFuzzer", .product(name: "PGStore", package: root), .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "CLibFuzzer"),
    ]
)
