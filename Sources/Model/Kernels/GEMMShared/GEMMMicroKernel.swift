// The register-blocked micro-kernel every fast GEMM form is built on.
//
// This file is compiled once per instruction set (see GEMMTile.swift in each kernel target): in
// `Model` with `GEMMLane = SIMD8<Float>` (AVX2, 16 ymm registers) and in `KernelsAVX512` with
// `GEMMLane = SIMD16<Float>` (AVX-512, 32 zmm registers). Only the tile constants differ.
//
// It computes one `rows × (vectors · GEMMLane.scalarCount)` tile of `C` as a sum of `depth` outer
// products: at each step `p` it loads one row of the `B` panel (`vectors` lane vectors), broadcasts
// `rows` scalars of the `A` panel and does `rows × vectors` fused multiply-adds into accumulators
// that stay in registers for the whole loop. Only the address arithmetic differs between the three
// GEMM forms, so `A` and `B` are described by strides:
//
//     A[r, p] = a[r * aRowStride + p * aDepthStride]     r ∈ 0..<rows
//     B[p, j] = b[p * bDepthStride + j]                   j ∈ 0..<columns (contiguous)
//
// Register budget: `rows × 2` accumulators, two `B` vectors and a broadcast must fit the register
// file without spilling — 6 × 2 + 3 = 15 of AVX2's 16 ymm, 12 × 2 + 3 = 27 of AVX-512's 32 zmm.
// A tile wider than two vectors cannot be written as one `SIMD32<Float>`: Swift lowers that type
// lane by lane.

/// `C[rows × vectors·lanes] (+)= A[rows × depth] · B[depth × vectors·lanes]`, `rows` ≤ 12,
/// `vectors` ∈ {1, 2}. `c` has row stride `ldc`. Always inlined, and `rows` and `vectors` must be
/// literals at the call site (through `gemmMicroKernelRows` for a partial panel): the guards then
/// fold away, constant strides fold into addresses, and a tile of fewer rows or one vector reads and
/// writes only its own part.
@_transparent
func gemmMicroKernel(
    rows: Int = GEMMTile.rows, vectors: Int = 2, depth: Int,
    a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, bDepthStride: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    typealias V = GEMMLane
    let half = V.scalarCount * MemoryLayout<Float>.stride
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
    var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
    var c80 = V(), c81 = V(), c90 = V(), c91 = V(), cA0 = V(), cA1 = V(), cB0 = V(), cB1 = V()
    var pa = a
    var pb = UnsafeRawPointer(b)
    let bStep = bDepthStride * MemoryLayout<Float>.stride

    for _ in 0..<depth {
        let b0 = pb.loadUnaligned(as: V.self)
        let b1 = vectors > 1 ? pb.loadUnaligned(fromByteOffset: half, as: V.self) : b0
        gemmRowUpdate(&c00, &c01, pa[0 * aRowStride], b0, b1, vectors: vectors)
        if rows > 1 { gemmRowUpdate(&c10, &c11, pa[1 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 2 { gemmRowUpdate(&c20, &c21, pa[2 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 3 { gemmRowUpdate(&c30, &c31, pa[3 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 4 { gemmRowUpdate(&c40, &c41, pa[4 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 5 { gemmRowUpdate(&c50, &c51, pa[5 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 6 { gemmRowUpdate(&c60, &c61, pa[6 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 7 { gemmRowUpdate(&c70, &c71, pa[7 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 8 { gemmRowUpdate(&c80, &c81, pa[8 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 9 { gemmRowUpdate(&c90, &c91, pa[9 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 10 { gemmRowUpdate(&cA0, &cA1, pa[10 * aRowStride], b0, b1, vectors: vectors) }
        if rows > 11 { gemmRowUpdate(&cB0, &cB1, pa[11 * aRowStride], b0, b1, vectors: vectors) }
        pa += aDepthStride
        pb += bStep
    }

    gemmRowStore(c00, c01, c + 0 * ldc, vectors: vectors, accumulate: accumulate)
    if rows > 1 { gemmRowStore(c10, c11, c + 1 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 2 { gemmRowStore(c20, c21, c + 2 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 3 { gemmRowStore(c30, c31, c + 3 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 4 { gemmRowStore(c40, c41, c + 4 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 5 { gemmRowStore(c50, c51, c + 5 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 6 { gemmRowStore(c60, c61, c + 6 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 7 { gemmRowStore(c70, c71, c + 7 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 8 { gemmRowStore(c80, c81, c + 8 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 9 { gemmRowStore(c90, c91, c + 9 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 10 { gemmRowStore(cA0, cA1, c + 10 * ldc, vectors: vectors, accumulate: accumulate) }
    if rows > 11 { gemmRowStore(cB0, cB1, c + 11 * ldc, vectors: vectors, accumulate: accumulate) }
}

/// One row of a tile, one depth step: `lo (+)= a·b0`, `hi (+)= a·b1`.
@_transparent
func gemmRowUpdate(_ lo: inout GEMMLane, _ hi: inout GEMMLane, _ a: Float, _ b0: GEMMLane, _ b1: GEMMLane, vectors: Int) {
    let broadcast = GEMMLane(repeating: a)
    lo.addProduct(broadcast, b0)
    if vectors > 1 { hi.addProduct(broadcast, b1) }
}

/// Writes (or adds) one row of a tile's accumulators to `c`.
@_transparent
func gemmRowStore(_ lo: GEMMLane, _ hi: GEMMLane, _ c: UnsafeMutablePointer<Float>, vectors: Int, accumulate: Bool) {
    let p = UnsafeMutableRawPointer(c), half = GEMMLane.scalarCount * MemoryLayout<Float>.stride
    if accumulate {
        p.storeBytes(of: lo + p.loadUnaligned(as: GEMMLane.self), as: GEMMLane.self)
        if vectors > 1 {
            p.storeBytes(of: hi + p.loadUnaligned(fromByteOffset: half, as: GEMMLane.self), toByteOffset: half, as: GEMMLane.self)
        }
    } else {
        p.storeBytes(of: lo, as: GEMMLane.self)
        if vectors > 1 { p.storeBytes(of: hi, toByteOffset: half, as: GEMMLane.self) }
    }
}

/// The micro-kernel for any panel of `rows` ∈ 1...`GEMMTile.rows` rows and `vectors` ∈ {1, 2}: one
/// specialized copy per combination (no padding, no wasted FMAs), chosen once per tile. Used for the
/// last, partial row panel, and for the last column panel when it fits one vector (n = 40 is two
/// full 16-wide panels and one 8-wide on AVX2; one 32-wide and one 16-wide on AVX-512).
@inline(never)
func gemmMicroKernelRows(
    _ rows: Int, vectors: Int = 2, depth: Int,
    a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, bDepthStride: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    @_transparent
    func kernel(_ r: Int, _ v: Int) {
        gemmMicroKernel(rows: r, vectors: v, depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                        b: b, bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate)
    }
    precondition(rows >= 1 && rows <= GEMMTile.rows && (vectors == 1 || vectors == 2))
    if vectors == 2 {
        switch rows {
        case 1: kernel(1, 2)
        case 2: kernel(2, 2)
        case 3: kernel(3, 2)
        case 4: kernel(4, 2)
        case 5: kernel(5, 2)
        case 6: kernel(6, 2)
        case 7: kernel(7, 2)
        case 8: kernel(8, 2)
        case 9: kernel(9, 2)
        case 10: kernel(10, 2)
        case 11: kernel(11, 2)
        default: kernel(12, 2)
        }
    } else {
        switch rows {
        case 1: kernel(1, 1)
        case 2: kernel(2, 1)
        case 3: kernel(3, 1)
        case 4: kernel(4, 1)
        case 5: kernel(5, 1)
        case 6: kernel(6, 1)
        case 7: kernel(7, 1)
        case 8: kernel(8, 1)
        case 9: kernel(9, 1)
        case 10: kernel(10, 1)
        case 11: kernel(11, 1)
        default: kernel(12, 1)
        }
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
/// Used by `gemmBlockedNT`, which computes `Cᵀ` tiles (see GEMMDrivers.swift).
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
