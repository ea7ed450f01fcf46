// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
        .library(name: "TesseraSim", targets: ["TesseraSim"]),
        .library(name: "TesseraPlacement", targets: ["TesseraPlacement"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // libzstd (Debian: libzstd-dev) decodes the ZSTD-compressed entries nvcc 13 writes into fatbinaries.
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        // Atomic read-modify-write on raw device memory, for kernels' atomics.
        .target(name: "CTesseraSimSupport"),
        .target(
            name: "TesseraSim",
            dependencies: ["CZstd", "CTesseraSimSupport"],
            swiftSettings: strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        // Placement policies, the engine behind controller, extender and trace replay; pure domain logic.
        .target(name: "TesseraPlacement", swiftSettings: strict),
        .executableTarget(
            name: "tessera",
            dependencies: [
                "TesseraSim",
                "TesseraPlacement",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tessera-bench-sim",
            dependencies: ["TesseraSim"],
            path: "bench/SimThroughput",
            swiftSettings: strict
        ),
        // CUDA/ holds the .cu sources the tests compile with nvcc at run time.
        .testTarget(name: "TesseraSimTests", dependencies: ["TesseraSim"], exclude: ["CUDA"], swiftSettings: strict),
        .testTarget(name: "TesseraPlacementTests", dependencies: ["TesseraPlacement"], swiftSettings: strict),
    ]
)
