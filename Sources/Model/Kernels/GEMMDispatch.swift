#if canImport(Glibc)
import Glibc
#endif
#if arch(x86_64)
import KernelsAVX512
#endif

/// A set of GEMM kernels, one per instruction set: the binary carries several and runs one.
public enum KernelPath: String, Sendable, CaseIterable, CustomStringConvertible {
    /// 12 × 32 tiles on zmm registers (x86-64 with AVX-512 F/BW/CD/DQ/VL, enabled by the OS).
    case avx512
    /// 6 × 16 tiles on ymm registers (x86-64 with AVX2 and FMA).
    case avx2
    /// The same 6 × 16 tiles on NEON registers (arm64).
    case neon
    /// The naive triple loops of `GEMMReference`: slow, for tests and for ruling the kernels out.
    case reference

    public var description: String { rawValue }
}

/// Which `KernelPath` runs, and why.
public struct KernelSelection: Sendable, Equatable {
    public var path: KernelPath
    public var reason: String
}

/// A bad `VAE_DIST_KERNELS`: an unknown name, or a path this CPU cannot run.
public struct KernelSelectionError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Chooses the GEMM kernels once per process and calls them through a table of function references.
///
/// The fastest path the CPU and the OS support is taken (AVX-512, else AVX2; NEON on arm64), unless
/// `VAE_DIST_KERNELS=avx512|avx2|neon|reference` forces one — for tests, and for ruling the kernels
/// out when chasing a bug. Forcing a path the CPU cannot run is an error, not a crash.
public enum GEMMDispatch {
    public typealias Kernel = @Sendable (
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Int, Bool
    ) -> Void

    /// `C[m×n] (+)= Aᵀ · B` over the depth cut at the leaf `boundaries`, leaves added pairwise; the next
    /// argument hears each band of `C`'s rows once it is final, the last chooses the bands (`gemmTN`).
    public typealias LeavesKernel = @Sendable (
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, UnsafeBufferPointer<Int>, Bool,
        ((Range<Int>) -> Void)?, ((Int) -> Int?)?
    ) -> Void

    /// The three GEMM forms of one path.
    public struct KernelSet: Sendable {
        public var path: KernelPath
        /// `C[m×n] (+)= A[m×k] · B[k×n]`
        public var gemm: Kernel
        /// `C[m×n] (+)= Aᵀ · B`, `A` stored `[k×m]`.
        public var gemmTN: Kernel
        /// `C[m×n] (+)= A · Bᵀ`, `B` stored `[n×k]`.
        public var gemmNT: Kernel
        /// `gemmTN` in `BatchLeaves` order (the weight gradient when sums must not depend on the world size).
        public var gemmTNLeaves: LeavesKernel
    }

    /// The environment variable that forces a path.
    public static let overrideVariable = "VAE_DIST_KERNELS"

    /// The path for `features`, honouring `request` (the value of `VAE_DIST_KERNELS`, nil or empty
    /// when unset): AVX-512 wherever the CPU and the OS support it, else AVX2 (NEON on arm64). Pure,
    /// so the choice for any CPUID/XCR0 bits is unit-tested.
    ///
    /// The AVX2 and AVX-512 kernels sum every product in the same order (the same depth blocks, one
    /// FMA chain per entry from zero, then added to `C`) and give bit-identical results, so ranks on
    /// different CPUs of one cluster, and a run resumed on another CPU, agree to the bit.
    public static func select(features: CPUFeatures, request: String?) throws(KernelSelectionError) -> KernelSelection {
        if let request, !request.isEmpty {
            guard let path = KernelPath(rawValue: request.lowercased()) else {
                let names = KernelPath.allCases.map(\.rawValue).joined(separator: ", ")
                throw KernelSelectionError(description: "\(overrideVariable)=\(request) is not a kernel path (\(names))")
            }
            if let why = features.unavailability(of: path) {
                throw KernelSelectionError(description: "\(overrideVariable)=\(request) cannot run here: \(why)")
            }
            return KernelSelection(path: path, reason: "forced by \(overrideVariable)")
        }
        guard features.architecture == "x86_64" else {
            return KernelSelection(path: .neon, reason: "NEON is baseline on arm64")
        }
        if let whyNot = features.avx2Unavailability {
            return KernelSelection(path: .reference, reason: "no SIMD kernels: \(whyNot)")
        }
        if let why = features.avx512Unavailability {
            return KernelSelection(path: .avx2, reason: "no AVX-512: \(why)")
        }
        return KernelSelection(path: .avx512, reason: "the CPU has AVX-512 F/BW/CD/DQ/VL and the OS saves the zmm state")
    }

    /// One core's FMA peak in GFLOP/s with 256-bit (ymm) and 512-bit (zmm) vectors.
    public struct FMAPeaks: Sendable, Equatable {
        public var ymm: Double
        public var zmm: Double
        public init(ymm: Double, zmm: Double) {
            self.ymm = ymm
            self.zmm = zmm
        }
    }

    /// Measures `FMAPeaks` on this core: both loops alternately, best of `rounds` (a few ms in all).
    /// Call only where AVX-512 is usable. `bench kernels` prints them: where the 512-bit peak is about
    /// twice the 256-bit one (two full-width FMA units), the AVX-512 kernels can be up to twice as fast.
    public static func measureFMAPeaks(rounds: Int = 5, iterations: Int = 100_000) -> FMAPeaks {
        #if arch(x86_64)
        return FMAPeaks(ymm: measureFMAPeak(of: .avx2, rounds: rounds, iterations: iterations),
                        zmm: measureFMAPeak(of: .avx512, rounds: rounds, iterations: iterations))
        #else
        return FMAPeaks(ymm: 0, zmm: 0)
        #endif
    }

    /// One core's FMA peak in GFLOP/s at the vector width of `path`'s kernels (best of `rounds`);
    /// 0 for the reference, which has no vector kernel. The limit against which `bench kernels` and
    /// `bench train --profile` put their GFLOP/s.
    public static func measureFMAPeak(of path: KernelPath, rounds: Int = 5, iterations: Int = 100_000) -> Double {
        let loop: (Int, Float) -> Float, flopsPerIteration: Int
        switch path {
        case .reference: return 0
        case .avx2, .neon: (loop, flopsPerIteration) = ({ fmaThroughputLoop(iterations: $0, seed: $1) }, fmaThroughputFlopsPerIteration)
        case .avx512:
            #if arch(x86_64)
            (loop, flopsPerIteration) = ({ avx512FMAThroughputLoop(iterations: $0, seed: $1) }, avx512FMAFlopsPerIteration)
            #else
            return 0
            #endif
        }
        let clock = ContinuousClock()
        var sink = loop(iterations / 4, 1e-3)  // warm up the vector units and the clock
        var best = Double.infinity
        for round in 0..<rounds {
            let seed = Float(round + 1) * 1e-3
            best = min(best, clock.measure { sink += loop(iterations, seed) }.seconds)
        }
        precondition(sink.isFinite)
        return Double(iterations * flopsPerIteration) / best / 1e9
    }

    /// The kernels of `path`, or nil when this CPU cannot run them.
    public static func kernels(for path: KernelPath, features: CPUFeatures = .current) -> KernelSet? {
        switch path {
        case .avx512:
            #if arch(x86_64)
            guard features.unavailability(of: .avx512) == nil else { return nil }
            return KernelSet(path: .avx512,
                             gemm: { avx512GEMM($0, $1, $2, m: $3, n: $4, k: $5, accumulate: $6) },
                             gemmTN: { avx512GEMMTN($0, $1, $2, m: $3, n: $4, k: $5, accumulate: $6) },
                             gemmNT: { avx512GEMMNT($0, $1, $2, m: $3, n: $4, k: $5, accumulate: $6) },
                             gemmTNLeaves: { avx512GEMMTNLeaves($0, $1, $2, m: $3, n: $4, boundaries: $5, accumulate: $6,
                                                                rowsDone: $7, nextRowBlock: $8) })
            #else
            return nil
            #endif
        case .avx2, .neon:
            guard features.unavailability(of: path) == nil else { return nil }
            return KernelSet(path: path,
                             gemm: { GEMMNativeKernels.gemm($0, $1, $2, m: $3, n: $4, k: $5, accumulate: $6) },
                             gemmTN: { GEMMNativeKernels.gemmTN($0, $1, $2, m: $3, n: $4, k: $5, accumulate: $6) },
                             gemmNT: { GEMMNativeKernels.gemmNT($0, $1, $2, m: $3, n: $4, k: $5, accumulate: $6) },
                             gemmTNLeaves: { GEMMNativeKernels.gemmTNLeaves($0, $1, $2, m: $3, n: $4, boundaries: $5,
                                                                            accumulate: $6, rowsDone: $7, nextRowBlock: $8) })
        case .reference:
            return KernelSet(path: .reference,
                             gemm: { GEMMReference.gemm($0, $1, $2, m: $3, n: $4, k: $5, accumulate: $6) },
                             gemmTN: { GEMMReference.gemmTN($0, $1, $2, m: $3, n: $4, k: $5, accumulate: $6) },
                             gemmNT: { GEMMReference.gemmNT($0, $1, $2, m: $3, n: $4, k: $5, accumulate: $6) },
                             gemmTNLeaves: {
                                 GEMMReference.gemmTN($0, $1, $2, m: $3, n: $4, leaves: BatchLeaves(boundaries: Array($5)),
                                                      accumulate: $6, rowsDone: $7, nextRowBlock: $8)
                             })
        }
    }

    /// The paths this CPU can run, fastest first.
    public static var availablePaths: [KernelPath] { KernelPath.allCases.filter { kernels(for: $0) != nil } }

    /// This process's choice: the CPU's best path or the one `VAE_DIST_KERNELS` forces. Read it once
    /// at start (`vae-dist` does, and reports a bad variable as a one-line error); a bad variable
    /// reaching the first GEMM of a library user stops the process with the same message.
    public static let selection: Result<KernelSelection, KernelSelectionError> = {
        do throws(KernelSelectionError) {
            return .success(try select(features: .current, request: getenv(overrideVariable).map { String(cString: $0) }))
        } catch {
            return .failure(error)
        }
    }()

    /// The kernels every `gemm`, `gemmTN` and `gemmNT` call runs.
    public static let active: KernelSet = {
        switch selection {
        case .success(let choice): return kernels(for: choice.path)!
        case .failure(let error): fatalError("\(error)")
        }
    }()
}

extension Duration {
    /// The duration in seconds, for the benchmarks.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
