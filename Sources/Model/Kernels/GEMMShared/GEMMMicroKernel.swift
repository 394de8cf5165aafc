import CVectorMath

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
// Two options serve `gemmBlockedNN`'s thin batches, where each `B` panel meets only a few row tiles: the
// first tile of a panel reads `B` in place and stores each row it loads into the packed panel
// (`packingBInto`), and the second asks for the next panel's lines (`prefetching`). Both are nil elsewhere
// and then fold away; neither changes an FMA, so the bits are those of packing first.
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
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
    adding tiles: UnsafePointer<UnsafeMutablePointer<Float>>? = nil, tileCount: Int = 0,
    packingBInto packedB: UnsafeMutablePointer<Float>? = nil,
    prefetching prefetch: UnsafePointer<Float>? = nil, prefetchStride: Int = 0
) {
    typealias V = GEMMLane
    let half = V.scalarCount * MemoryLayout<Float>.stride
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
    var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
    var c80 = V(), c81 = V(), c90 = V(), c91 = V(), cA0 = V(), cA1 = V(), cB0 = V(), cB1 = V()
    var pa = a
    var pb = UnsafeRawPointer(b)
    let bStep = bDepthStride * MemoryLayout<Float>.stride
    var pp = UnsafeMutableRawPointer(packedB)
    var pf = prefetch

    for _ in 0..<depth {
        let b0 = pb.loadUnaligned(as: V.self)
        let b1 = vectors > 1 ? pb.loadUnaligned(fromByteOffset: half, as: V.self) : b0
        if let p = pp {  // the row of B just loaded, stored into its packed panel for the tiles that follow
            p.storeBytes(of: b0, as: V.self)
            if vectors > 1 { p.storeBytes(of: b1, toByteOffset: half, as: V.self) }
            pp = p + GEMMTile.columns * MemoryLayout<Float>.stride
        }
        if let q = pf {  // the tile's width of another row: two or three cache lines (one or two on AVX2)
            vd_prefetch_l2(q)
            if GEMMTile.columns > 16 { vd_prefetch_l2(q + 16) }
            vd_prefetch_l2(q + GEMMTile.columns - 1)
            pf = q + prefetchStride
        }
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

    gemmRowStore(c00, c01, row: 0, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount)
    if rows > 1 { gemmRowStore(c10, c11, row: 1, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 2 { gemmRowStore(c20, c21, row: 2, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 3 { gemmRowStore(c30, c31, row: 3, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 4 { gemmRowStore(c40, c41, row: 4, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 5 { gemmRowStore(c50, c51, row: 5, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 6 { gemmRowStore(c60, c61, row: 6, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 7 { gemmRowStore(c70, c71, row: 7, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 8 { gemmRowStore(c80, c81, row: 8, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 9 { gemmRowStore(c90, c91, row: 9, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 10 { gemmRowStore(cA0, cA1, row: 10, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
    if rows > 11 { gemmRowStore(cB0, cB1, row: 11, c, ldc: ldc, vectors: vectors, accumulate: accumulate, adding: tiles, tileCount) }
}

/// A full tile that asks for the lines of another panel of `B`, one row of it (`prefetchStride` apart) per depth
/// step, so that they wait in L2 for the tile that will read them in place (`gemmBlockedNN`).
@inline(never)
func gemmMicroKernelPrefetching(
    depth: Int, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, bDepthStride: Int, prefetching: UnsafePointer<Float>, prefetchStride: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    gemmMicroKernel(depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride, b: b,
                    bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate, prefetching: prefetching,
                    prefetchStride: prefetchStride)
}

/// A full tile that reads its `B` panel in place (`bDepthStride` apart per step) and, as it goes, copies it
/// into `packedB` as a `depth × GEMMTile.columns` panel for the row tiles that follow (`gemmBlockedNN`): the
/// copy rides on loads the tile makes anyway, so it costs no pass over `B` of its own.
@inline(never)
func gemmMicroKernelPackingB(
    depth: Int, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, bDepthStride: Int, packingBInto packedB: UnsafeMutablePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    gemmMicroKernel(depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride, b: b,
                    bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate, packingBInto: packedB)
}

/// One row of a tile, one depth step: `lo (+)= a·b0`, `hi (+)= a·b1`.
@_transparent
func gemmRowUpdate(_ lo: inout GEMMLane, _ hi: inout GEMMLane, _ a: Float, _ b0: GEMMLane, _ b1: GEMMLane, vectors: Int) {
    let broadcast = GEMMLane(repeating: a)
    lo.addProduct(broadcast, b0)
    if vectors > 1 { hi.addProduct(broadcast, b1) }
}

/// Row `row` of a tile: first adds the same row of `tileCount` scratch tiles (row stride `GEMMTile.columns`),
/// in order — `tiles[1] + (tiles[0] + acc)`, the pairwise tree of `gemmBlockedTNLeaves` — then writes (or adds)
/// it to row `row` of `c`. With `tileCount` a literal 0 (every other caller) this is `gemmRowStore`.
@_transparent
func gemmRowStore(_ lo: GEMMLane, _ hi: GEMMLane, row: Int, _ c: UnsafeMutablePointer<Float>, ldc: Int, vectors: Int,
                  accumulate: Bool, adding tiles: UnsafePointer<UnsafeMutablePointer<Float>>?, _ tileCount: Int) {
    var lo = lo, hi = hi
    if tileCount > 0, let tiles {
        let half = GEMMLane.scalarCount * MemoryLayout<Float>.stride
        for t in 0..<tileCount {
            let p = UnsafeRawPointer(tiles[t] + row * GEMMTile.columns)
            lo = p.loadUnaligned(as: GEMMLane.self) + lo
            if vectors > 1 { hi = p.loadUnaligned(fromByteOffset: half, as: GEMMLane.self) + hi }
        }
    }
    gemmRowStore(lo, hi, c + row * ldc, vectors: vectors, accumulate: accumulate)
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

/// The operands of one micro-kernel call, for the edge kernels below.
struct GEMMKernelOperands {
    var depth: Int
    var a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int
    var b: UnsafePointer<Float>, bDepthStride: Int
    var c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    /// Scratch tiles added to the accumulators as they are stored (`gemmBlockedTNLeaves`' tree).
    var tiles: UnsafePointer<UnsafeMutablePointer<Float>>? = nil, tileCount = 0
}

@_transparent
func gemmMicroKernel(rows: Int, vectors: Int, _ o: GEMMKernelOperands) {
    gemmMicroKernel(rows: rows, vectors: vectors, depth: o.depth, a: o.a, aRowStride: o.aRowStride,
                    aDepthStride: o.aDepthStride, b: o.b, bDepthStride: o.bDepthStride, c: o.c, ldc: o.ldc,
                    accumulate: o.accumulate, adding: o.tiles, tileCount: o.tileCount)
}

/// The micro-kernel for any panel of `rows` ∈ 1...`GEMMTile.rows` rows and `vectors` ∈ {1, 2}: one
/// specialized copy per combination (no padding, no wasted FMAs), chosen once per tile. Used for the
/// last, partial row panel, and for the last column panel when it fits one vector (n = 40 is two
/// full 16-wide panels and one 8-wide on AVX2; one 32-wide and one 16-wide on AVX-512).
///
/// Each copy is a function of its own: one function holding all 24 would grow past the optimizer's
/// inlining budget, leaving standard-library helpers such as `storeBytes` out of line — and an
/// out-of-line specialization compiled for AVX-512 can be picked by the linker for every caller
/// (scripts/check-isa-boundary catches that).
@inline(never)
func gemmMicroKernelRows(
    _ rows: Int, vectors: Int = 2, depth: Int,
    a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, bDepthStride: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
    adding tiles: UnsafePointer<UnsafeMutablePointer<Float>>? = nil, tileCount: Int = 0
) {
    precondition(rows >= 1 && rows <= GEMMTile.rows && (vectors == 1 || vectors == 2))
    let o = GEMMKernelOperands(depth: depth, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                               b: b, bDepthStride: bDepthStride, c: c, ldc: ldc, accumulate: accumulate,
                               tiles: tiles, tileCount: tileCount)
    switch (rows, vectors) {
    case (1, 2): gemmKernel1x2(o)
    case (2, 2): gemmKernel2x2(o)
    case (3, 2): gemmKernel3x2(o)
    case (4, 2): gemmKernel4x2(o)
    case (5, 2): gemmKernel5x2(o)
    case (6, 2): gemmKernel6x2(o)
    case (7, 2): gemmKernel7x2(o)
    case (8, 2): gemmKernel8x2(o)
    case (9, 2): gemmKernel9x2(o)
    case (10, 2): gemmKernel10x2(o)
    case (11, 2): gemmKernel11x2(o)
    case (_, 2): gemmKernel12x2(o)
    case (1, _): gemmKernel1x1(o)
    case (2, _): gemmKernel2x1(o)
    case (3, _): gemmKernel3x1(o)
    case (4, _): gemmKernel4x1(o)
    case (5, _): gemmKernel5x1(o)
    case (6, _): gemmKernel6x1(o)
    case (7, _): gemmKernel7x1(o)
    case (8, _): gemmKernel8x1(o)
    case (9, _): gemmKernel9x1(o)
    case (10, _): gemmKernel10x1(o)
    case (11, _): gemmKernel11x1(o)
    default: gemmKernel12x1(o)
    }
}

@inline(never) func gemmKernel1x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 1, vectors: 2, o) }
@inline(never) func gemmKernel2x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 2, vectors: 2, o) }
@inline(never) func gemmKernel3x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 3, vectors: 2, o) }
@inline(never) func gemmKernel4x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 4, vectors: 2, o) }
@inline(never) func gemmKernel5x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 5, vectors: 2, o) }
@inline(never) func gemmKernel6x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 6, vectors: 2, o) }
@inline(never) func gemmKernel7x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 7, vectors: 2, o) }
@inline(never) func gemmKernel8x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 8, vectors: 2, o) }
@inline(never) func gemmKernel9x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 9, vectors: 2, o) }
@inline(never) func gemmKernel10x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 10, vectors: 2, o) }
@inline(never) func gemmKernel11x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 11, vectors: 2, o) }
@inline(never) func gemmKernel12x2(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 12, vectors: 2, o) }
@inline(never) func gemmKernel1x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 1, vectors: 1, o) }
@inline(never) func gemmKernel2x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 2, vectors: 1, o) }
@inline(never) func gemmKernel3x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 3, vectors: 1, o) }
@inline(never) func gemmKernel4x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 4, vectors: 1, o) }
@inline(never) func gemmKernel5x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 5, vectors: 1, o) }
@inline(never) func gemmKernel6x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 6, vectors: 1, o) }
@inline(never) func gemmKernel7x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 7, vectors: 1, o) }
@inline(never) func gemmKernel8x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 8, vectors: 1, o) }
@inline(never) func gemmKernel9x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 9, vectors: 1, o) }
@inline(never) func gemmKernel10x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 10, vectors: 1, o) }
@inline(never) func gemmKernel11x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 11, vectors: 1, o) }
@inline(never) func gemmKernel12x1(_ o: GEMMKernelOperands) { gemmMicroKernel(rows: 12, vectors: 1, o) }

/// Asks for the cache lines of `C`'s tile `rows × columns` (row stride `ldc`), to be written, without waiting: a
/// weight gradient is written once a step, so its lines are cold, and a tile's stores would wait on them.
@inline(__always)
func gemmPrefetchTile(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int) {
    for r in 0..<rows {
        let row = c + r * ldc
        var j = 0
        while j < columns { vd_prefetch_for_write(row + j); j += 16 }
        vd_prefetch_for_write(row + columns - 1)
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

/// Writes (or adds) columns `columns` of a tile transposed: `c[j * ldc + r] (+)= tile[r, j]`, one scalar at a
/// time. Each target's `gemmStoreTileTransposed` (GEMMTranspose.swift) stores what its shuffles do not cover
/// with it: all of the tile on AVX2, the columns past the last 8 × 8 block on AVX-512.
@inline(__always)
func gemmStoreTileTransposedScalar(
    _ tile: UnsafePointer<Float>, rows: Int, columns: Range<Int>,
    into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    for j in columns {
        let dst = c + j * ldc
        if accumulate {
            for r in 0..<rows { dst[r] += tile[r * GEMMTile.columns + j] }
        } else {
            for r in 0..<rows { dst[r] = tile[r * GEMMTile.columns + j] }
        }
    }
}
