// swift-tools-version: 6.1
//
// vae-dist: data-parallel variational autoencoders in Swift on Open MPI.
//
// Build setting — the CPU the Swift kernels are compiled for (see README, "Building for another CPU"):
//   VAE_DIST_CPU=x86-64-v3   (default on x86-64) AVX2 + FMA: any x86-64 CPU since ~2015 (Haswell, Zen 1).
//   VAE_DIST_CPU=x86-64-v4   AVX-512 (Skylake-SP, Ice Lake, Zen 4 ...).
//   VAE_DIST_CPU=native      whatever the build machine has; the binary may crash on other cluster nodes.
//   VAE_DIST_CPU=generic     no flag at all (SSE2 only on x86-64; about 100x slower kernels — for debugging).
// Without a flag, Swift's SIMD `addingProduct` compiles to one libm `fmaf` call per lane: 125x slower.
// On arm64 NEON and FMA are baseline and no flag is needed.
import PackageDescription
import Foundation

let cpu = ProcessInfo.processInfo.environment["VAE_DIST_CPU"] ?? "x86-64-v3"
var cpuFlags: [String] = []
#if arch(x86_64)
if cpu != "generic" {
    // `-target-cpu x86-64-v3` is rejected by swiftc; clang's -march is honoured for Swift code generation.
    cpuFlags = ["-Xcc", "-march=\(cpu)"]
}
#endif

/// The AVX-512 kernels are compiled for x86-64-v4 whatever VAE_DIST_CPU says; they run only where
/// the CPU and the OS support AVX-512 (chosen at start, see GEMMDispatch).
var avx512Flags: [String] = []
#if arch(x86_64)
avx512Flags = ["-Xcc", "-march=x86-64-v4"]
#endif

let kernelSettings: [SwiftSetting] = [
    .unsafeFlags(cpuFlags),
    // Hot loops run on unsafe buffer pointers; keep exclusivity checks out of them.
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
    // Unoptimized SIMD code is ~100x slower, which would make `swift test` (a debug build) train for many
    // minutes; the numerical modules are optimized in debug builds too (tests still get -enable-testing).
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]

let package = Package(
    name: "vae-dist",
    products: [
        .executable(name: "vae-dist", targets: ["Launcher"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C: the only code that includes mpi.h; Open MPI found through pkg-config (ompi-c).
        .systemLibrary(
            name: "MPIShim",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        // C: zlib for gzip IDX files and PNG.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // C header only: vector square root without libm's scalar errno fallback.
        .systemLibrary(name: "CVectorMath"),
        // C header only: CPUID and XGETBV, for choosing the GEMM kernels at start.
        .systemLibrary(name: "CCPUFeatures"),
        // C header only: atomic words in memory that several processes map (the node-shared window).
        .systemLibrary(name: "CSharedAtomics"),
        // The GEMM kernels again, compiled for AVX-512 (sources linked from Model/Kernels/GEMMShared).
        .target(
            name: "KernelsAVX512",
            dependencies: ["CVectorMath"],
            swiftSettings: [
                .unsafeFlags(avx512Flags),
                .unsafeFlags(["-enforce-exclusivity=unchecked"]),
                .unsafeFlags(["-O"], .when(configuration: .debug)),
            ]
        ),
        // Numerics: kernels and their dispatch, layers, networks, losses, Adam, counter-based RNG.
        // Knows nothing of files, MPI or the command line.
        .target(
            name: "Model",
            dependencies: ["CVectorMath", "CCPUFeatures", "KernelsAVX512"],
            swiftSettings: kernelSettings
        ),
        // Run files: checkpoint container, atomic writes, gzip, MD5, PNG, plots, JSON lines.
        .target(
            name: "FileFormats",
            dependencies: ["CZlib"],
            swiftSettings: kernelSettings
        ),
        // Data reading: IDX files, the data set catalogue and lookup, downloads.
        .target(
            name: "Datasets",
            dependencies: ["FileFormats"],
            swiftSettings: kernelSettings
        ),
        // Communicator over MPI (and a one-rank stand-in), sharding, the data-parallel training loop.
        .target(
            name: "Distributed",
            dependencies: ["MPIShim", "CSharedAtomics", "Model", "FileFormats", "Datasets"],
            swiftSettings: kernelSettings
        ),
        // The `vae-dist` executable: subcommands, configuration, benchmarks, the local launcher.
        .executableTarget(
            name: "Launcher",
            dependencies: [
                "Distributed", "Model", "FileFormats", "Datasets",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: kernelSettings
        ),
        .testTarget(
            name: "ModelTests",
            dependencies: ["Model", "FileFormats", "Datasets"],
            resources: [.copy("Fixtures")],
            swiftSettings: kernelSettings
        ),
        // The command line in process: flag validation, help texts, the launcher's mpirun arguments.
        .testTarget(
            name: "LauncherTests",
            dependencies: [
                "Launcher",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: kernelSettings
        ),
        .testTarget(
            name: "DistributedTests",
            dependencies: ["Distributed", "Model", "FileFormats", "Datasets"],
            swiftSettings: kernelSettings
        ),
        // Checks that need several real ranks; run under mpirun by scripts/test (np = 2 and 4).
        .executableTarget(
            name: "multirank-tests",
            dependencies: ["Distributed", "Model", "FileFormats", "Datasets", "CSharedAtomics"],
            path: "Tests/MultiRank",
            swiftSettings: kernelSettings
        ),
        // Mutated IDX and checkpoint files fed to the readers for a bounded time; run by scripts/test-fuzz.
        .executableTarget(
            name: "fuzz-readers",
            dependencies: ["Distributed", "Model", "FileFormats", "Datasets"],
            path: "Tests/Fuzz",
            swiftSettings: kernelSettings
        ),
    ]
)
