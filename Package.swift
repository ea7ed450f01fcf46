// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

/// For the libraries on a program's per-call path (the client core and both CUDA faces) and on the node's (its
/// sessions, the simulated backend, the simulator): shared state is behind locks and a session's own state is
/// its thread's alone, and the dynamic exclusivity checks on class properties cost about a tenth of the client's
/// CPU per kernel launch (measured on the driver path) and 5–7 % of the node's.
let hotPath: [SwiftSetting] = strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

/// Linker settings that turn one ABI layer into a drop-in `libcudart.so.<major>`: its soname, a version script
/// that exports only CUDA's names under the soname's version node, and the Swift runtime linked in statically so
/// the library loads on machines without a Swift toolchain.
func cudartLinkerSettings(major: Int) -> [LinkerSetting] {
    [.unsafeFlags([
        "-static-stdlib",
        "-Xlinker", "-soname=libcudart.so.\(major)",
        "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/CudartABI\(major)/exports.map",
        "-Xlinker", "-z", "-Xlinker", "nodelete",
    ])]
}

/// Linker settings that turn the driver face into a drop-in `libcuda.so.1`: its soname, only CUDA's driver
/// names exported (unversioned, as NVIDIA's are), and the Swift runtime linked in statically.
func cudaDriverLinkerSettings() -> [LinkerSetting] {
    [.unsafeFlags([
        "-static-stdlib",
        "-Xlinker", "-soname=libcuda.so.1",
        "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/CudaDriverABI/exports.map",
        "-Xlinker", "-z", "-Xlinker", "nodelete",
    ])]
}

let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
        .library(name: "TesseraSim", targets: ["TesseraSim"]),
        .library(name: "TesseraPlacement", targets: ["TesseraPlacement"]),
        // Drop-in CUDA runtimes; `tessera run` exposes them as libcudart.so.13 and libcudart.so.12.
        .library(name: "TesseraCudart13", type: .dynamic, targets: ["CudartABI13"]),
        .library(name: "TesseraCudart12", type: .dynamic, targets: ["CudartABI12"]),
        // Drop-in CUDA driver; `tessera run` exposes it as libcuda.so.1.
        .library(name: "TesseraCuda", type: .dynamic, targets: ["CudaDriverABI"]),
        // Preloaded by `tessera run` under nvJitLink's soname for simulated GPUs only (see Sources/CJitLinkStandIn).
        .library(name: "TesseraJitLinkStandIn", type: .dynamic, targets: ["CJitLinkStandIn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // The kubelet's gRPC APIs (device plugin, pod resources); only TesseraDevicePlugin links them.
        .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        // Prometheus text exposition for the controller's and the node's /metrics (never the client libraries or
        // the simulator).
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        // TLS for the controller's HTTPS API and its clients, and the pool CA's certificates. Already in the build
        // through grpc-swift-nio-transport (BoringSSL is compiled for it); named here because the pool uses them.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.0"),
    ],
    targets: [
        // libzstd (Debian: libzstd-dev) decodes the ZSTD-compressed entries nvcc 13 writes into fatbinaries.
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        // Atomic read-modify-write on raw device memory, for kernels' atomics.
        .target(name: "CTesseraSimSupport"),
        .target(
            name: "TesseraSim",
            dependencies: ["CZstd", "CTesseraSimSupport"],
            swiftSettings: hotPath
        ),
        // Placement policies, the engine behind controller, extender and trace replay; pure domain logic.
        .target(name: "TesseraPlacement", swiftSettings: strict),
        // Frames and messages between the CUDA runtime and the node daemon: no I/O, no Foundation.
        .target(name: "TesseraWire", swiftSettings: strict),
        // What executes device work: the DeviceBackend protocol and its context/stream/event/module types.
        .target(name: "TesseraDevice", dependencies: ["TesseraWire"], swiftSettings: strict),
        // Simulated GPUs behind the DeviceBackend protocol: with TesseraSim, the only modules that link libzstd.
        .target(name: "TesseraSimBackend", dependencies: ["TesseraDevice", "TesseraSim", "TesseraWire"], swiftSettings: hotPath),
        // Real NVIDIA GPUs through the CUDA driver API (dlopen of libcuda.so.1 and libnvidia-ml.so.1); one worker
        // process per session and GPU.
        .target(
            name: "TesseraCUDABackend",
            dependencies: ["TesseraDevice", "TesseraWire", "CTesseraPOSIX", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The per-node daemon: sessions, placement, scheduling over a device backend.
        .target(
            name: "TesseraNode",
            dependencies: [
                "TesseraDevice", "TesseraWire", "CTesseraPOSIX",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: hotPath
        ),
        // POSIX pieces Swift cannot spell: SCM_RIGHTS control messages, peer credentials, memfd.
        .target(name: "CTesseraPOSIX"),
        // CUDA's C types and the generated stubs for libcudart functions the runtime does not implement.
        .target(name: "CCudaABI", exclude: ["cudart-exports.txt"]),
        // The client side shared by every ABI face: connections, pipelining, handle tables, the vGPU request,
        // cross-node routing. No Foundation, no Dispatch.
        .target(
            name: "TesseraClientCore",
            dependencies: ["TesseraWire", "CTesseraPOSIX"],
            swiftSettings: hotPath
        ),
        // The CUDA runtime API (libcudart) over the client core, shared by both sonames.
        .target(
            name: "TesseraRuntime",
            dependencies: ["TesseraClientCore", "TesseraWire", "CTesseraPOSIX", "CCudaABI"],
            swiftSettings: hotPath
        ),
        .target(name: "CudartABI13", dependencies: ["TesseraRuntime", "TesseraClientCore"], exclude: ["exports.map"], swiftSettings: strict,
                linkerSettings: cudartLinkerSettings(major: 13)),
        .target(name: "CudartABI12", dependencies: ["TesseraRuntime", "TesseraClientCore"], exclude: ["exports.map"], swiftSettings: strict,
                linkerSettings: cudartLinkerSettings(major: 12)),
        // The driver face's C glue: NVIDIA's private tables, cuGetProcAddress's version table, generated stubs.
        .target(name: "CCudaDriver", exclude: ["cuda-exports.txt", "proc-versions.txt"]),
        // An empty library under nvJitLink's soname: programs on simulated GPUs link PTX through the driver.
        .target(name: "CJitLinkStandIn", linkerSettings: [.unsafeFlags(["-Xlinker", "-soname=libnvJitLink.so.13"])]),
        // The CUDA driver API (libcuda.so.1) over the client core.
        .target(name: "CudaDriverABI", dependencies: ["TesseraClientCore", "TesseraWire", "CCudaDriver"],
                exclude: ["exports.map"], swiftSettings: hotPath, linkerSettings: cudaDriverLinkerSettings()),
        // Kubernetes integration: the scheduler extender, its reservations and the Kubernetes API client.
        .target(
            name: "TesseraKubernetes",
            dependencies: [
                "TesseraPlacement", "TesseraPoolAPI", "TesseraWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The kubelet-facing gRPC side of the node: the device plugin (v1beta1) and the pod-resources client (v1).
        // Generated/ comes from Protos/ through scripts/generate-grpc.sh.
        .target(
            name: "TesseraDevicePlugin",
            dependencies: [
                "TesseraKubernetes",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The pool's shared vocabulary: API documents (JSON), errors, the controller API's client. Imports no node,
        // device backend or simulator.
        .target(
            name: "TesseraPoolAPI",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // The node's link to its controller: registration and heartbeats, leases, reservation claims.
        .target(
            name: "TesseraNodeAgent",
            dependencies: [
                "TesseraNode", "TesseraPoolAPI", "TesseraWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The node's `/metrics` (--metrics-listen): its GPUs and the vGPUs of its sessions, in Prometheus text.
        .target(
            name: "TesseraNodeMetrics",
            dependencies: [
                "TesseraNode", "TesseraNodeAgent", "TesseraWire",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The pool manager: inventory and leases (a pure state machine), durable state in SQLite, the HTTP API.
        .target(
            name: "TesseraController",
            dependencies: [
                "TesseraPoolAPI", "TesseraPlacement",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tessera-bench-controller",
            dependencies: ["TesseraController", "TesseraPoolAPI", "TesseraPlacement", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "bench/Controller",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tessera",
            dependencies: [
                "TesseraSim", "TesseraSimBackend", "TesseraCUDABackend", "TesseraNode", "TesseraClientCore", "TesseraNodeAgent",
                "TesseraPlacement", "TesseraPoolAPI", "TesseraController", "TesseraKubernetes", "TesseraDevicePlugin",
                "TesseraNodeMetrics",
                .product(name: "Prometheus", package: "swift-prometheus"),
                // swift-metrics' MetricsSystem, bootstrapped onto the controller's Prometheus registry, carries
                // Hummingbird's request metrics.
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // `tessera groups apply -f groups.yaml`.
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // Saturating workloads for compute-isolation tests and benchmarks.
        .target(name: "TesseraSimLoad", dependencies: ["TesseraSim"], swiftSettings: strict),
        .executableTarget(
            name: "tessera-bench-compute",
            dependencies: ["TesseraSim", "TesseraSimLoad"],
            path: "bench/ComputeShare",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tessera-bench-extender",
            dependencies: ["TesseraKubernetes", "TesseraPlacement"],
            path: "bench/ExtenderLatency",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tessera-bench-sim",
            dependencies: ["TesseraSim"],
            path: "bench/SimThroughput",
            swiftSettings: strict
        ),
        // Stand-ins for the external systems the Kubernetes tests talk to (kubelet, Kubernetes API server);
        // used only by test targets.
        .target(
            name: "TesseraTestSupport",
            dependencies: [
                "TesseraDevicePlugin", "TesseraKubernetes", "TesseraPlacement",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TesseraTestSupport",
            swiftSettings: strict
        ),
        // CUDA/ holds the .cu sources the tests compile with nvcc at run time.
        .testTarget(name: "TesseraSimTests", dependencies: ["TesseraSim", "TesseraSimLoad"], exclude: ["CUDA"], swiftSettings: strict),
        .testTarget(name: "TesseraPlacementTests", dependencies: ["TesseraPlacement"], swiftSettings: strict),
        .testTarget(name: "TesseraWireTests", dependencies: ["TesseraWire"], swiftSettings: strict),
        .testTarget(name: "TesseraNodeTests", dependencies: ["TesseraNode", "TesseraDevice", "TesseraWire"], swiftSettings: strict),
        .testTarget(name: "TesseraCUDABackendTests", dependencies: ["TesseraCUDABackend", "TesseraWire"], swiftSettings: strict),
        .testTarget(name: "TesseraClientCoreTests", dependencies: ["TesseraClientCore", "CTesseraPOSIX"], swiftSettings: strict),
        .testTarget(
            name: "TesseraKubernetesTests",
            dependencies: [
                "TesseraKubernetes", "TesseraPlacement", "TesseraPoolAPI", "TesseraController", "TesseraNode", "TesseraNodeAgent", "CTesseraPOSIX",
                "TesseraTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TesseraDevicePluginTests",
            dependencies: [
                "TesseraDevicePlugin", "TesseraKubernetes", "TesseraPlacement", "TesseraTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "TesseraControllerTests", dependencies: ["TesseraController", "TesseraPoolAPI", "TesseraPlacement"], swiftSettings: strict),
        .testTarget(name: "TesseraNodeAgentTests", dependencies: ["TesseraNodeAgent", "TesseraNode", "TesseraPoolAPI", "TesseraWire"], swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TesseraWire", "CTesseraPOSIX", "TesseraPoolAPI", "TesseraKubernetes", "TesseraDevicePlugin", "TesseraTestSupport",
            ],
            swiftSettings: strict
        ),
    ]
)
