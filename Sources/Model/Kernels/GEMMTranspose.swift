/// The transpositions of the AVX2 (and NEON) GEMM build: `gemmPackTransposedPanels` (the `Bᵀ` of a thin
/// `gemmNT`, the `Aᵀ` of a deep one) and `gemmStoreTileTransposed` (`gemmBlockedNT`'s `Cᵀ` tiles).
///
/// Each kernel target has its own copy of this file, because a fast transposition needs the target's
/// shuffles, which generic Swift SIMD cannot express: the AVX-512 one (KernelsAVX512/GEMMTranspose.swift)
/// uses 512-bit permutes; this one stays scalar, so it compiles for any CPU the binary may target. Both
/// move values only: no arithmetic but the final add into `C`, which is the same add in both.

/// Transposes `count` rows of `src` (row stride `rowStride`, `depth` used entries each) into
/// `depth × GEMMTile.columns` panels: `panel[p * nr + j] = src[(j0 + j) * rowStride + p]`.
func gemmPackTransposedPanels(
    _ src: UnsafePointer<Float>, rowStride: Int, count: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
    gemmPackTransposedPanelsScalar(src, rowStride: rowStride, count: count, depth: depth, into: dst)
}

/// Like `gemmStoreTile` but writes the tile transposed: `c[j * ldc + r] (+)= tile[r, j]`.
/// Used by `gemmBlockedNT`, which computes `Cᵀ` tiles (see GEMMDrivers.swift).
@inline(__always)
func gemmStoreTileTransposed(
    _ tile: UnsafePointer<Float>, rows: Int, columns: Int,
    into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    gemmStoreTileTransposedScalar(tile, rows: rows, columns: 0..<columns, into: c, ldc: ldc, accumulate: accumulate)
}

/// Copies `rows` ≤ `GEMMTile.rows` rows of `src` (row stride `rowStride`) into a `depth × GEMMTile.rows`
/// panel: `panel[p * mr + r] = src[r * rowStride + p]`. Only where `GEMMBlocking.packsRowPanels`.
func gemmPackRowPanel(
    _ src: UnsafePointer<Float>, rowStride: Int, rows: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
    let mr = GEMMTile.rows
    for p in 0..<depth {
        for r in 0..<rows { dst[p * mr + r] = src[r * rowStride + p] }
    }
}
