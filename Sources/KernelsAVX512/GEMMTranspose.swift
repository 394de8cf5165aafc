/// The transpositions of the AVX-512 GEMM build, with 512- and 256-bit permutes: the scalar loops of the
/// AVX2 build (Model/Kernels/GEMMTranspose.swift) cost a load and a store per float, which showed as a
/// third of the time of a thin-k input gradient (`bench kernels`: m = 128, n = 500, k = 250 ran ~35% below
/// the forward GEMM of the same size) and a tenth of a deep one (`Cᵀ` tiles stored once per depth block).
/// Here a 16 × 16 block takes 64 two-source permutes (`vpermt2ps`).
///
/// Values are only moved; the one add (a transposed tile into `C`) is the same add as the AVX2 build's,
/// so both builds keep giving the same bits.
#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Transposes `count` rows of `src` (row stride `rowStride`, `depth` used entries each) into
/// `depth × GEMMTile.columns` panels: `panel[p * nr + j] = src[(j0 + j) * rowStride + p]`, zero-padded.
func gemmPackTransposedPanels(
    _ src: UnsafePointer<Float>, rowStride: Int, count: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
#if arch(x86_64)
    let nr = GEMMTile.columns, lanes = GEMMLane.scalarCount
    precondition(nr == 2 * lanes && lanes == 16)
    withUnsafeTemporaryAllocation(of: GEMMLane.self, capacity: lanes) { buffer in
        let v = buffer.baseAddress!
        var panel = dst, j0 = 0
        while j0 < count {
            for half in 0..<2 {
                let jh = j0 + half * lanes, valid = max(0, min(lanes, count - jh))
                var p = 0
                while p < depth {  // a 16 × 16 block: 16 rows, 16 depth steps (masked at the end of a row)
                    let width = min(lanes, depth - p), mask = __mmask16(truncatingIfNeeded: (1 << width) - 1)
                    for r in 0..<lanes {
                        v[r] = r < valid ? _mm512_maskz_loadu_ps(mask, src + (jh + r) * rowStride + p) : GEMMLane()
                    }
                    gemmTranspose16(v)
                    let out = panel + p * nr + half * lanes
                    for q in 0..<width { _mm512_storeu_ps(out + q * nr, v[q]) }
                    p += lanes
                }
            }
            panel += nr * depth
            j0 += nr
        }
    }
#else
    gemmPackTransposedPanelsScalar(src, rowStride: rowStride, count: count, depth: depth, into: dst)
#endif
}

/// Like `gemmStoreTile` but writes the tile transposed: `c[j * ldc + r] (+)= tile[r, j]`.
/// Used by `gemmBlockedNT`, which computes `Cᵀ` tiles (see GEMMDrivers.swift). A tile of all 8 rows goes
/// by 8 × 8 blocks (one ymm row of `C` each), any other part by scalars.
@inline(__always)
func gemmStoreTileTransposed(
    _ tile: UnsafePointer<Float>, rows: Int, columns: Int,
    into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    var done = 0
#if arch(x86_64)
    if rows == 8 {
        done = columns / 8 * 8
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 8) { buffer in
            let v = buffer.baseAddress!
            for j0 in stride(from: 0, to: done, by: 8) {
                for r in 0..<8 { v[r] = _mm256_loadu_ps(tile + r * GEMMTile.columns + j0) }
                gemmTranspose8(v)
                for q in 0..<8 {
                    let dst = c + (j0 + q) * ldc
                    _mm256_storeu_ps(dst, accumulate ? _mm256_loadu_ps(dst) + v[q] : v[q])
                }
            }
        }
    }
#endif
    gemmStoreTileTransposedScalar(tile, rows: rows, columns: done..<columns, into: c, ldc: ldc, accumulate: accumulate)
}

/// Copies `rows` ≤ `GEMMTile.rows` rows of `src` (row stride `rowStride`) into a `depth × GEMMTile.rows`
/// panel: `panel[p * mr + r] = src[r * rowStride + p]` (`gemmBlockedNN`'s `A`), full panels by 8 × 8 blocks.
func gemmPackRowPanel(
    _ src: UnsafePointer<Float>, rowStride: Int, rows: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
    let mr = GEMMTile.rows
    var done = 0
#if arch(x86_64)
    if rows == 8 && mr == 8 {
        done = depth / 8 * 8
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 8) { buffer in
            let v = buffer.baseAddress!
            for p in stride(from: 0, to: done, by: 8) {
                for r in 0..<8 { v[r] = _mm256_loadu_ps(src + r * rowStride + p) }
                gemmTranspose8(v)
                for q in 0..<8 { _mm256_storeu_ps(dst + (p + q) * mr, v[q]) }
            }
        }
    }
#endif
    for p in done..<depth {
        for r in 0..<rows { dst[p * mr + r] = src[r * rowStride + p] }
    }
}

#if arch(x86_64)
/// Transposes the 16 × 16 block `v[row][lane]` in place: four rounds, each swapping the off-diagonal
/// `b × b` sub-blocks of every `2b × 2b` block (b = 8, 4, 2, 1) with one permute per row.
@inline(__always)
private func gemmTranspose16(_ v: UnsafeMutablePointer<GEMMLane>) {
    typealias I = SIMD16<Int32>
    // Written out pair by pair: a loop here stays a loop (LLVM does not unroll it), costing more than the permutes.
    @inline(__always) func pair(_ i: Int, _ b: Int, _ lo: __m512i, _ hi: __m512i) {
        let x = v[i], y = v[i + b]
        v[i] = _mm512_permutex2var_ps(x, lo, y)
        v[i + b] = _mm512_permutex2var_ps(x, hi, y)
    }
    let lo8 = unsafeBitCast(I(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), to: __m512i.self)
    let hi8 = unsafeBitCast(I(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31), to: __m512i.self)
    pair(0, 8, lo8, hi8); pair(1, 8, lo8, hi8); pair(2, 8, lo8, hi8); pair(3, 8, lo8, hi8)
    pair(4, 8, lo8, hi8); pair(5, 8, lo8, hi8); pair(6, 8, lo8, hi8); pair(7, 8, lo8, hi8)
    let lo4 = unsafeBitCast(I(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27), to: __m512i.self)
    let hi4 = unsafeBitCast(I(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31), to: __m512i.self)
    pair(0, 4, lo4, hi4); pair(1, 4, lo4, hi4); pair(2, 4, lo4, hi4); pair(3, 4, lo4, hi4)
    pair(8, 4, lo4, hi4); pair(9, 4, lo4, hi4); pair(10, 4, lo4, hi4); pair(11, 4, lo4, hi4)
    let lo2 = unsafeBitCast(I(0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29), to: __m512i.self)
    let hi2 = unsafeBitCast(I(2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31), to: __m512i.self)
    pair(0, 2, lo2, hi2); pair(1, 2, lo2, hi2); pair(4, 2, lo2, hi2); pair(5, 2, lo2, hi2)
    pair(8, 2, lo2, hi2); pair(9, 2, lo2, hi2); pair(12, 2, lo2, hi2); pair(13, 2, lo2, hi2)
    let lo1 = unsafeBitCast(I(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30), to: __m512i.self)
    let hi1 = unsafeBitCast(I(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31), to: __m512i.self)
    pair(0, 1, lo1, hi1); pair(2, 1, lo1, hi1); pair(4, 1, lo1, hi1); pair(6, 1, lo1, hi1)
    pair(8, 1, lo1, hi1); pair(10, 1, lo1, hi1); pair(12, 1, lo1, hi1); pair(14, 1, lo1, hi1)
}

/// The same for an 8 × 8 block of ymm rows (b = 4, 2, 1).
@inline(__always)
private func gemmTranspose8(_ v: UnsafeMutablePointer<SIMD8<Float>>) {
    typealias I = SIMD8<Int32>
    @inline(__always) func pair(_ i: Int, _ b: Int, _ lo: __m256i, _ hi: __m256i) {
        let x = v[i], y = v[i + b]
        v[i] = _mm256_permutex2var_ps(x, lo, y)
        v[i + b] = _mm256_permutex2var_ps(x, hi, y)
    }
    let lo4 = unsafeBitCast(I(0, 1, 2, 3, 8, 9, 10, 11), to: __m256i.self)
    let hi4 = unsafeBitCast(I(4, 5, 6, 7, 12, 13, 14, 15), to: __m256i.self)
    pair(0, 4, lo4, hi4); pair(1, 4, lo4, hi4); pair(2, 4, lo4, hi4); pair(3, 4, lo4, hi4)
    let lo2 = unsafeBitCast(I(0, 1, 8, 9, 4, 5, 12, 13), to: __m256i.self)
    let hi2 = unsafeBitCast(I(2, 3, 10, 11, 6, 7, 14, 15), to: __m256i.self)
    pair(0, 2, lo2, hi2); pair(1, 2, lo2, hi2); pair(4, 2, lo2, hi2); pair(5, 2, lo2, hi2)
    let lo1 = unsafeBitCast(I(0, 8, 2, 10, 4, 12, 6, 14), to: __m256i.self)
    let hi1 = unsafeBitCast(I(1, 9, 3, 11, 5, 13, 7, 15), to: __m256i.self)
    pair(0, 1, lo1, hi1); pair(2, 1, lo1, hi1); pair(4, 1, lo1, hi1); pair(6, 1, lo1, hi1)
}
#endif
