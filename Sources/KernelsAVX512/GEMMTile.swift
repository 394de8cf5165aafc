/// The AVX-512 build of the GEMM kernels: this target's tile and cache blocking.
///
/// This target is compiled for x86-64-v4 (AVX-512 F/BW/CD/DQ/VL) whatever the rest of the binary
/// targets, and holds nothing but the kernels: GEMMMicroKernel.swift, GEMMPacking.swift and
/// GEMMDrivers.swift here are links to the sources in Model/Kernels/GEMMShared, compiled again with
/// this file's `GEMMLane`, tile and blocking. Nothing here is `@inlinable`, so no instruction of it
/// can reach code that runs on a CPU without AVX-512: only `GEMMDispatch` calls in, and only after
/// checking the CPU and the OS (scripts/check-isa-boundary verifies the binary).

/// One lane vector of the tile: a zmm register.
typealias GEMMLane = SIMD16<Float>

enum GEMMTile {
    /// Rows of `C` per tile: 8 × 2 accumulators, two `B` vectors and a broadcast use 19 of the 32
    /// zmm registers. Sixteen independent chains cover two FMA units' latency; 10- and 12-row tiles
    /// (up to 27 registers) timed slower in `bench kernels --kernels avx512`, and 8 divides the usual
    /// per-rank batches.
    static let rows = 8
    /// Columns of `C` per tile: two vectors.
    static let columns = 2 * GEMMLane.scalarCount
}

enum GEMMBlocking {
    /// Column block of a packed `B`: `depth × width` floats = 512 KiB, within a 1 MiB L2.
    static let width = 512
    /// `gemm` copies `A`'s rows into `depth × rows` panels (`gemmPackRowPanel`): the micro-kernel then
    /// reads one sequential stream at constant offsets instead of eight row streams (eight pointer
    /// additions per depth step).
    static let packsRowPanels = true
    /// Rows of `A` packed at a time: `rowBlock × depth` floats = 256 KiB, beside the packed `B` block in L2.
    static let rowBlock = 256
}

#if arch(x86_64)
/// `C[m×n] (+)= A[m×k] · B[k×n]` on AVX-512. Call only where `CPUFeatures` reports AVX-512.
public func avx512GEMM(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    gemmBlockedNN(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
}

/// `C[m×n] (+)= Aᵀ · B`, `A` stored `[k×m]`, on AVX-512.
public func avx512GEMMTN(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    gemmBlockedTN(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
}

/// `C[m×n] (+)= Aᵀ · B` summed over the depth in leaves added pairwise (`BatchLeaves`), on AVX-512.
public func avx512GEMMTNLeaves(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, boundaries: UnsafeBufferPointer<Int>, accumulate: Bool, rowsDone: ((Range<Int>) -> Void)?,
    nextRowBlock: ((Int) -> Int?)?
) {
    gemmBlockedTNLeaves(a, b, c, m: m, n: n, boundaries: boundaries, accumulate: accumulate, rowsDone: rowsDone,
                        nextRowBlock: nextRowBlock)
}

/// `C[m×n] (+)= A · Bᵀ`, `B` stored `[n×k]`, on AVX-512.
public func avx512GEMMNT(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    gemmBlockedABt(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
}
#endif

#if arch(x86_64)
/// FLOPs of one iteration of `avx512FMAThroughputLoop`.
public let avx512FMAFlopsPerIteration = fmaThroughputFlopsPerIteration

/// The 512-bit FMA throughput loop (see FMAThroughput.swift).
public func avx512FMAThroughputLoop(iterations: Int, seed: Float) -> Float {
    fmaThroughputLoop(iterations: iterations, seed: seed)
}
#endif
