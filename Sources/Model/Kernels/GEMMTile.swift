/// The AVX2 build of the GEMM kernels: this target's tile and cache blocking.
///
/// The micro-kernel, packing and drivers in GEMMShared/ are compiled twice: here, for the CPU the
/// whole binary targets (`VAE_DIST_CPU`, x86-64-v3 by default; NEON on arm64), and in the
/// `KernelsAVX512` target for x86-64-v4. Each target gives them its own `GEMMLane`, tile and blocking,
/// and `GEMMDispatch` picks one set at start.

/// One lane vector of the tile: a ymm register.
typealias GEMMLane = SIMD8<Float>

enum GEMMTile {
    /// Rows of `C` per tile (scalars broadcast from `A` per depth step): 6 × 2 accumulators, two `B`
    /// vectors and a broadcast use 15 of the 16 ymm registers.
    static let rows = 6
    /// Columns of `C` per tile: two vectors.
    static let columns = 2 * GEMMLane.scalarCount
}

enum GEMMBlocking {
    /// Column block of a packed `B`: `depth × width` floats = 512 KiB, within a 1 MiB L2.
    static let width = 512
    /// `gemm` reads `A`'s rows in place: packing them into row panels timed no faster here
    /// (`bench kernels --kernels avx2`), and the scalar copy (`gemmPackRowPanel`) would cost more.
    static let packsRowPanels = false
    /// Rows of `A` packed at a time where `packsRowPanels` (unused here).
    static let rowBlock = 256
}

/// The AVX2 (or NEON) kernels, as `GEMMDispatch` calls them.
enum GEMMNativeKernels {
    static func gemm(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                     m: Int, n: Int, k: Int, accumulate: Bool) {
        gemmBlockedNN(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
    }

    static func gemmTN(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                       m: Int, n: Int, k: Int, accumulate: Bool) {
        gemmBlockedTN(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
    }

    static func gemmTNLeaves(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                             m: Int, n: Int, boundaries: UnsafeBufferPointer<Int>, accumulate: Bool,
                             rowsDone: ((Range<Int>) -> Void)?, nextRowBlock: ((Int) -> Int?)?) {
        gemmBlockedTNLeaves(a, b, c, m: m, n: n, boundaries: boundaries, accumulate: accumulate, rowsDone: rowsDone,
                            nextRowBlock: nextRowBlock)
    }

    static func gemmNT(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                       m: Int, n: Int, k: Int, accumulate: Bool) {
        gemmBlockedABt(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
    }
}
