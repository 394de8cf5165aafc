/// The register-blocked micro-kernel every fast GEMM form is built on.
///
/// It computes one `GEMMTile.rows × GEMMTile.columns` tile of `C` as a sum of `depth` outer
/// products: at each step `p` it loads one row of the `B` panel (two `GEMMLane` vectors), broadcasts
/// `GEMMTile.rows` scalars of the `A` panel and does `2 × rows` fused multiply-adds into accumulators
/// that stay in registers for the whole loop. Only the address arithmetic differs between the three
/// GEMM forms, so `A` and `B` are described by strides:
///
///     A[r, p] = a[r * aRowStride + p * aDepthStride]     r ∈ 0..<rows
///     B[p, j] = b[p * bDepthStride + j]                   j ∈ 0..<columns (contiguous)
///
/// Tile: 6 × 16 floats = 12 ymm accumulators, leaving 3 of AVX2's 16 ymm registers for the two
/// `B` vectors and the broadcast (a tile with 16 zmm-sized accumulators spills on AVX2 and halves
/// the speed). The same tile is used for AVX-512 builds: on Zen 4, which reaches the same FMA peak
/// with either width, a 6 × 32 zmm tile measured the same on A·B and Aᵀ·B and 10–25% slower on
/// A·Bᵀ and on thin shapes (more padding at n = 40), so there is no per-ISA variant. Without a
/// target flag (`VAE_DIST_CPU=generic`) this still compiles and is correct, only slow.
typealias GEMMLane = SIMD8<Float>

enum GEMMTile {
    /// Rows of `C` per tile (scalars broadcast from `A` per depth step).
    static let rows = 6
    /// Columns of `C` per tile: two vectors.
    static let columns = 2 * GEMMLane.scalarCount
}

/// `C[rows × tile columns] (+)= A[rows × depth] · B[depth × tile columns]`, `rows` ≤ 6.
/// `c` has row stride `ldc`. Always inlined, and `rows` must be a literal at the call site
/// (6 for full tiles, or through `gemmMicroKernelRows`): the row guards then fold away, constant
/// strides fold into addresses, and a tile of fewer rows reads and writes only its own rows.
@inline(__always)
func gemmMicroKernel(
    rows: Int = GEMMTile.rows, depth: Int,
    a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, bDepthStride: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    typealias V = GEMMLane
    let half = V.scalarCount * MemoryLayout<Float>.stride
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
    var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
    var pa = a
    var pb = UnsafeRawPointer(b)
    let bStep = bDepthStride * MemoryLayout<Float>.stride
    for _ in 0..<depth {
        let b0 = pb.loadUnaligned(as: V.self)
        let b1 = pb.loadUnaligned(fromByteOffset: half, as: V.self)
        let a0 = V(repeating: pa[0])
        c00.addProduct(a0, b0); c01.addProduct(a0, b1)
        if rows > 1 {
            let a1 = V(repeating: pa[aRowStride])
            c10.addProduct(a1, b0); c11.addProduct(a1, b1)
        }
        if rows > 2 {
            let a2 = V(repeating: pa[2 * aRowStride])
            c20.addProduct(a2, b0); c21.addProduct(a2, b1)
        }
        if rows > 3 {
            let a3 = V(repeating: pa[3 * aRowStride])
            c30.addProduct(a3, b0); c31.addProduct(a3, b1)
        }
        if rows > 4 {
            let a4 = V(repeating: pa[4 * aRowStride])
            c40.addProduct(a4, b0); c41.addProduct(a4, b1)
        }
        if rows > 5 {
            let a5 = V(repeating: pa[5 * aRowStride])
            c50.addProduct(a5, b0); c51.addProduct(a5, b1)
        }
        pa += aDepthStride
        pb += bStep
    }
    @inline(__always)
    func store(_ lo: V, _ hi: V, row: Int) {
        let p = UnsafeMutableRawPointer(c + row * ldc)
        if accumulate {
            p.storeBytes(of: lo + p.loadUnaligned(as: V.self), as: V.self)
            p.storeBytes(of: hi + p.loadUnaligned(fromByteOffset: half, as: V.self), toByteOffset: half, as: V.self)
        } else {
            p.storeBytes(of: lo, as: V.self)
            p.storeBytes(of: hi, toByteOffset: half, as: V.self)
        }
    }
    store(c00, c01, row: 0)
    if rows > 1 { store(c10, c11, row: 1) }
    if rows > 2 { store(c20, c21, row: 2) }
    if rows > 3 { store(c30, c31, row: 3) }
    if rows > 4 { store(c40, c41, row: 4) }
    if rows > 5 { store(c50, c51, row: 5) }
}

/// The micro-kernel for a last, partial row panel of `rows` ∈ 1...5 rows: one specialized copy
/// per row count (no padding, no wasted FMAs), chosen once per panel.
@inline(never)
func gemmMicroKernelRows(
    _ rows: Int, depth: Int,
    a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, bDepthStride: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    switch rows {
    case 1: gemmMicroKernel(rows: 1, depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                            b: b, bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate)
    case 2: gemmMicroKernel(rows: 2, depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                            b: b, bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate)
    case 3: gemmMicroKernel(rows: 3, depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                            b: b, bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate)
    case 4: gemmMicroKernel(rows: 4, depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                            b: b, bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate)
    case 5: gemmMicroKernel(rows: 5, depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                            b: b, bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate)
    default: gemmMicroKernel(depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                             b: b, bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate)
    }
}

/// Adds or copies the top-left `rows × columns` of a full tile (row stride `GEMMTile.columns`)
/// into `c`. Used for edge tiles, which the micro-kernel computes into a scratch tile.
@inline(__always)
func gemmStoreTile(
    _ tile: UnsafePointer<Float>, rows: Int, columns: Int,
    into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    for r in 0..<rows {
        let src = tile + r * GEMMTile.columns, dst = c + r * ldc
        if accumulate {
            for j in 0..<columns { dst[j] += src[j] }
        } else {
            for j in 0..<columns { dst[j] = src[j] }
        }
    }
}

/// Like `gemmStoreTile` but writes the tile transposed: `c[j * ldc + r] (+)= tile[r, j]`.
/// Used by `gemmNT`, which computes `Cᵀ` tiles (see GEMMDrivers.swift).
@inline(__always)
func gemmStoreTileTransposed(
    _ tile: UnsafePointer<Float>, rows: Int, columns: Int,
    into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    for j in 0..<columns {
        let dst = c + j * ldc
        if accumulate {
            for r in 0..<rows { dst[r] += tile[r * GEMMTile.columns + j] }
        } else {
            for r in 0..<rows { dst[r] = tile[r * GEMMTile.columns + j] }
        }
    }
}
