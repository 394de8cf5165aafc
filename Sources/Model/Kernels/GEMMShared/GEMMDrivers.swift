/// Cache-blocked loop nests around `gemmMicroKernel`, one per GEMM form, compiled once per
/// instruction set like the micro-kernel (blocking constants in each target's GEMMTile.swift).
///
/// All split the depth `k` into blocks of `GEMMBlocking.depth` (and `gemm`/`gemmTN` the columns
/// into blocks of `GEMMBlocking.width`), so a packed block stays in L2 and the operand re-read per
/// tile stays in L1 (one `B` panel in `gemm`, one `Aᵀ` row panel in `gemmTN`, six rows of `W` in
/// `gemmNT`'s deep-k path):
///
/// | form                 | kernel's `A` operand                  | kernel's `B` operand              |
/// | -------------------- | ------------------------------------- | --------------------------------- |
/// | `gemm`   A·B         | A's rows in place, or packed (AVX-512)| B packed into column panels       |
/// | `gemmTN` Aᵀ·B        | A's row panel copied (or in place)    | B packed into column panels       |
/// | `gemmNT` A·Bᵀ, thin k| A's rows in place                     | Bᵀ packed (transposing)           |
/// | `gemmNT` A·Bᵀ, deep k| B's rows in place (computes Cᵀ)       | Aᵀ packed (transposing, batch)    |
///
/// `B` panels are packed even where they could be read in place: the packing reads rows
/// sequentially, which the hardware prefetchers follow, while the micro-kernel reading a panel in
/// place jumps a whole row of a weight matrix per step.
///
/// Where `C`'s columns fill the lane vectors poorly and its rows fill them well (n = 40 on AVX-512), `gemm`
/// and `gemmTN` compute `Cᵀ` instead (GEMMTransposedC.swift).
///
/// For deep `k`, `gemmNT` computes `Cᵀ = B · Aᵀ` and stores each tile transposed: the big operand
/// (`W` in the input gradient `dY·Wᵀ`) is then read in place and only the batch-sized `dY` is
/// transposed (`gemmBlockedABt` chooses between the two ways by shape).
///
/// Edge tiles: a last partial row panel uses a micro-kernel of exactly that many rows
/// (`gemmMicroKernelRows`); a last partial column panel is computed from a zero-padded `B` panel
/// into a scratch tile of which only the valid part is written, by a one-vector kernel when the
/// remainder fits one lane vector. So every shape ≥ 0 is handled.
extension GEMMBlocking {
    /// Depth block: one packed `depth × GEMMTile.columns` `B` panel stays in L1 (16 KiB on AVX2,
    /// 32 KiB on AVX-512). The same in every build: each entry of `C` is one FMA chain per depth
    /// block, from zero, then added to `C`, so with equal blocks the AVX2 and AVX-512 kernels give
    /// bit-identical results (KernelDispatchTests checks it).
    static let depth = 256

    /// Floats of `B` from which `gemm` prefetches each column panel while computing the one before (256 KiB:
    /// a quarter of an L2). A `B` warm in L2 gains nothing from it (`bench kernels`, warm operands: 2-4% slower
    /// at 500 → 250 on a Xeon, family 6 model 207), one read from L3 gains 5-15% (1000 → 784, 500 → 1000). In
    /// training a weight is cold, just rewritten by Adam: on a Zen 4 EPYC (family 25 model 17) the deep
    /// model's 250 ↔ 500 forwards took 0.19-0.24 ms a step with it against 0.25-0.28 without (3 pairs), and warm
    /// `bench kernels` showed no change beyond its noise.
    static let prefetchedB = 1 << 16
}

/// Handles the degenerate shapes shared by all forms. Returns true when nothing is left to do.
@inline(__always)
func gemmTrivial(_ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, accumulate: Bool) -> Bool {
    if m <= 0 || n <= 0 { return true }
    if k <= 0 {
        if !accumulate { c.update(repeating: 0, count: m * n) }
        return true
    }
    return false
}

/// Scratch memory for one call: packed panels plus one tile. Heap-allocated for large panels.
@inline(__always)
func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { body($0.baseAddress!) }
}

/// `C[m×n] (+)= A[m×k] · B[k×n]` (or `· Bᵀ` with `B` stored `[n×k]` when `bTransposed`). `B` (the
/// weight) is packed per `depth × GEMMBlocking.width` block, panel by panel: by the first row tile of each
/// panel, which reads it in place as it computes (`gemmMicroKernelPackingB`), while the second tile prefetches
/// the next panel for it; a stored-transposed `B`, or one met by less than a row tile, is packed first. `A` (the
/// batch) is read in place, one stream per tile row, or — where the target sets
/// `GEMMBlocking.packsRowPanels` — copied per `GEMMBlocking.rowBlock` rows into `depth × rows` panels,
/// so the micro-kernel reads one sequential stream with constant offsets.
func gemmBlockedNN(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool, bTransposed: Bool = false
) {
    if gemmTrivial(c, m: m, n: n, k: k, accumulate: accumulate) { return }
    if !bTransposed && gemmComputesCTransposed(m: m, n: n) {  // thin, ill-fitting n (GEMMTransposedC.swift)
        gemmBlockedCTransposed(a, aStoredTransposed: false, b, c, m: m, n: n, k: k, accumulate: accumulate)
        return
    }
    let mr = GEMMTile.rows, nr = GEMMTile.columns
    let kcMax = min(k, GEMMBlocking.depth)
    let ncMax = min((n + nr - 1) / nr * nr, GEMMBlocking.width)
    let mcMax = min((m + mr - 1) / mr * mr, GEMMBlocking.rowBlock)
    // A few row tiles share each packed `B` panel (the per-rank batch): there a packing pass of its own
    // would cost a third of the time (`bench kernels` on the Xeon model 207, deep 1000 → 784 forward at a
    // batch of 32).
    let packsBInFirstTile = !bTransposed && m >= mr, prefetchesB = k * n >= GEMMBlocking.prefetchedB
    withScratch(kcMax * ncMax + mr * nr + (GEMMBlocking.packsRowPanels ? mcMax * kcMax : 0)) { scratch in
        let packedB = scratch, tile = scratch + kcMax * ncMax, packedA = tile + mr * nr
        var jcBlock = 0
        while jcBlock < n {
            let nc = min(GEMMBlocking.width, n - jcBlock)
            // As in gemmBlockedTN: the copy pays off over many column panels, not for thin n (`bench
            // kernels`: n = 60 and n = 30 ran 8-27% slower packed, n ≥ 500 up to 7% faster).
            let packA = GEMMBlocking.packsRowPanels && nc >= 8 * nr
            var pc = 0
            while pc < k {
                let kc = min(GEMMBlocking.depth, k - pc)
                let acc = accumulate || pc > 0
                // Each full column panel is packed by its first row tile, which reads it in place; only a last,
                // partial panel is packed before.
                if packsBInFirstTile {
                    let fullColumns = nc / nr * nr
                    if fullColumns < nc {
                        gemmPackColumnTail(b + pc * n + jcBlock + fullColumns, rowStride: n, columns: nc - fullColumns,
                                           depth: kc, into: packedB + fullColumns * kc)
                    }
                } else {
                    gemmPackPanels(b, storedTransposed: bTransposed, ld: bTransposed ? k : n, p0: pc, j0: jcBlock, depth: kc,
                                   columns: nc, into: packedB)
                }
                var icBlock = 0
                while icBlock < m {
                    let mc = packA ? min(mcMax, m - icBlock) : m
                    if packA {
                        for i in stride(from: 0, to: mc, by: mr) {
                            gemmPackRowPanel(a + (icBlock + i) * k + pc, rowStride: k, rows: min(mr, mc - i), depth: kc,
                                             into: packedA + i * kc)
                        }
                    }
                    gemmNNColumnPanels(
                        a: packA ? UnsafePointer(packedA) : a + icBlock * k + pc, rowStep: mr * (packA ? kc : k),
                        aRowStride: packA ? 1 : k, aDepthStride: packA ? mr : 1, rows: mc,
                        packedB: packedB, columns: nc, depth: kc, c: c + icBlock * n + jcBlock, ldc: n,
                        accumulate: acc, tile: tile,
                        packingFrom: packsBInFirstTile && icBlock == 0 ? b + pc * n + jcBlock : nil, ldb: n,
                        prefetchesB: prefetchesB)
                    icBlock += mc
                }
                pc += kc
            }
            jcBlock += nc
        }
    }
}

/// The inner loops of `gemmBlockedNN`: every column panel of a packed `B` block times `rows` rows of
/// `A` (row panel `i` at `a + i / mr * rowStep`, `A[r, p]` at `aRowStride`, `aDepthStride` inside it).
@inline(__always)
private func gemmNNColumnPanels(
    a: UnsafePointer<Float>, rowStep: Int, aRowStride: Int, aDepthStride: Int, rows m: Int,
    packedB: UnsafeMutablePointer<Float>, columns nc: Int, depth kc: Int,
    c: UnsafeMutablePointer<Float>, ldc n: Int, accumulate acc: Bool, tile: UnsafeMutablePointer<Float>,
    packingFrom bInPlace: UnsafePointer<Float>?, ldb: Int, prefetchesB: Bool
) {
    let mr = GEMMTile.rows, nr = GEMMTile.columns
    let mFull = m / mr * mr
    var jc = 0
    while jc < nc {
        let columns = min(nr, nc - jc), vectors = columns > GEMMLane.scalarCount ? 2 : 1
        let bPanel = UnsafePointer(packedB + jc * kc)
        let cPanel = c + jc
        var ic = 0
        if let bInPlace, columns == nr {  // the first row tile packs this panel (needs m >= mr)
            gemmMicroKernelPackingB(depth: kc, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                                    b: bInPlace + jc, bDepthStride: ldb, packingBInto: packedB + jc * kc,
                                    c: cPanel, ldc: n, accumulate: acc)
            ic = mr
            // B out of L2 (or, in training, evicted by the other layers): the second tile asks for the next
            // panel's lines, which the next first tile would otherwise wait for one by one (rows `ldb` apart
            // defeat the hardware prefetchers).
            if mFull > mr && jc + 2 * nr <= nc && prefetchesB {
                gemmMicroKernelPrefetching(depth: kc, a: a + rowStep, aRowStride: aRowStride, aDepthStride: aDepthStride,
                                           b: bPanel, bDepthStride: nr, prefetching: bInPlace + jc + nr, prefetchStride: ldb,
                                           c: cPanel + mr * n, ldc: n, accumulate: acc)
                ic = 2 * mr
            }
        }
        while ic < mFull {
            let aPanel = a + ic / mr * rowStep
            if columns == nr {
                gemmMicroKernel(depth: kc, a: aPanel, aRowStride: aRowStride, aDepthStride: aDepthStride,
                                b: bPanel, bDepthStride: nr, c: cPanel + ic * n, ldc: n, accumulate: acc)
            } else {
                gemmMicroKernelRows(mr, vectors: vectors, depth: kc, a: aPanel, aRowStride: aRowStride,
                                    aDepthStride: aDepthStride, b: bPanel, bDepthStride: nr, c: tile, ldc: nr, accumulate: false)
                gemmStoreTile(tile, rows: mr, columns: columns, into: cPanel + ic * n, ldc: n, accumulate: acc)
            }
            ic += mr
        }
        if mFull < m {  // last rows: a kernel of that many rows
            let rows = m - mFull, aRows = a + mFull / mr * rowStep
            if columns == nr {
                gemmMicroKernelRows(rows, depth: kc, a: aRows, aRowStride: aRowStride, aDepthStride: aDepthStride,
                                    b: bPanel, bDepthStride: nr, c: cPanel + mFull * n, ldc: n, accumulate: acc)
            } else {
                gemmMicroKernelRows(rows, vectors: vectors, depth: kc, a: aRows, aRowStride: aRowStride, aDepthStride: aDepthStride,
                                    b: bPanel, bDepthStride: nr, c: tile, ldc: nr, accumulate: false)
                gemmStoreTile(tile, rows: rows, columns: columns, into: cPanel + mFull * n, ldc: n, accumulate: acc)
            }
        }
        jc += nr
    }
}

/// Whether `gemmTN` (and its leaves form) reads `B` — the batch-sized output gradient — in place
/// instead of packing it: where `C` has at most three row panels (the decoder's first layer, 20 or 30
/// latent inputs), each `B` panel is read that few times, and the packing pass (a read and a write of
/// all of `B`) costs about as much as the FMAs. `n` must be whole lane vectors, so that the last column
/// panel's kernel reads no float past a row of `B`.
@inline(__always)
func gemmReadsBInPlace(m: Int, n: Int) -> Bool {
    m <= 3 * GEMMTile.rows && n % GEMMLane.scalarCount == 0
}

/// `C[m×n] (+)= Aᵀ · B`, `A` stored `[k×m]`, `B` stored `[k×n]`. A depth step of a tile's `Aᵀ`
/// rows is contiguous in `A` (one tile's rows, `m` apart per step); `B` (batch × out) is packed and stays
/// in L2. Blocks of `GEMMBlocking.transposedRowBlock` rows of `C` are the outer loop, so `C` — the big
/// weight gradient — is written a band of rows after another, and within a block the column panels,
/// so that each `B` panel serves all the block's row panels from L1.
func gemmBlockedTN(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    if gemmTrivial(c, m: m, n: n, k: k, accumulate: accumulate) { return }
    if !gemmReadsBInPlace(m: m, n: n) && gemmComputesCTransposed(m: m, n: n) {  // GEMMTransposedC.swift
        gemmBlockedCTransposed(a, aStoredTransposed: true, b, c, m: m, n: n, k: k, accumulate: accumulate)
        return
    }
    let mr = GEMMTile.rows, nr = GEMMTile.columns
    let kcMax = min(k, GEMMBlocking.depth)
    let ncMax = min((n + nr - 1) / nr * nr, GEMMBlocking.width)
    let inPlace = gemmReadsBInPlace(m: m, n: n), packedBSize = inPlace ? 0 : kcMax * ncMax
    let rowBlock = min((m + mr - 1) / mr * mr, GEMMBlocking.transposedRowBlock)
    withScratch(packedBSize + mr * nr + kcMax * rowBlock) { scratch in
        let packedB = scratch, tile = scratch + packedBSize, packedA = tile + mr * nr
        var jcBlock = 0
        while jcBlock < n {
            let nc = min(GEMMBlocking.width, n - jcBlock)
            // Aᵀ's rows are read once per column panel: worth a contiguous copy when there are many panels,
            // not for thin n (`bench kernels` times both kinds of shape). Copied a row block at a time.
            let packA = nc >= 8 * nr, blockRows = packA ? rowBlock : mr
            var pc = 0
            while pc < k {
                let kc = min(GEMMBlocking.depth, k - pc)
                let acc = accumulate || pc > 0
                if !inPlace {
                    gemmPackColumnPanels(b + pc * n + jcBlock, rowStride: n, columns: nc, depth: kc, into: packedB)
                }
                // Column panel `jc` of this block, and the stride between its depth steps.
                let bStep = inPlace ? n : nr
                func bPanel(_ jc: Int) -> UnsafePointer<Float> {
                    inPlace ? b + pc * n + jcBlock + jc : UnsafePointer(packedB + jc * kc)
                }
                var icBlock = 0
                while icBlock < m {
                    let block = min(blockRows, m - icBlock)
                    if packA {
                        for i in stride(from: 0, to: block, by: mr) {
                            gemmPackDepthRows(a + pc * m + icBlock + i, depthStride: m, rows: min(mr, block - i),
                                              depth: kc, into: packedA + i * kc)
                        }
                    }
                    var jc = 0
                    while jc < nc {
                        let columns = min(nr, nc - jc)
                        var i = 0
                        while i < block {
                            let rows = min(mr, block - i), cTile = c + (icBlock + i) * n + jcBlock + jc
                            let aPanel = packA ? UnsafePointer(packedA + i * kc) : a + pc * m + icBlock + i
                            let aStep = packA ? mr : m
                            if pc == 0 { gemmPrefetchTile(cTile, rows: rows, columns: columns, ldc: n) }
                            if columns == nr {
                                if rows == mr {
                                    gemmMicroKernel(depth: kc, a: aPanel, aRowStride: 1, aDepthStride: aStep,
                                                    b: bPanel(jc), bDepthStride: bStep, c: cTile, ldc: n, accumulate: acc)
                                } else {  // last rows: a kernel of that many rows
                                    gemmMicroKernelRows(rows, depth: kc, a: aPanel, aRowStride: 1, aDepthStride: aStep,
                                                        b: bPanel(jc), bDepthStride: bStep, c: cTile, ldc: n, accumulate: acc)
                                }
                            } else {  // last columns: through the scratch tile
                                let vectors = columns > GEMMLane.scalarCount ? 2 : 1
                                gemmMicroKernelRows(rows, vectors: vectors, depth: kc, a: aPanel, aRowStride: 1,
                                                    aDepthStride: aStep, b: bPanel(jc), bDepthStride: bStep, c: tile, ldc: nr,
                                                    accumulate: false)
                                gemmStoreTile(tile, rows: rows, columns: columns, into: cTile, ldc: n, accumulate: acc)
                            }
                            i += mr
                        }
                        jc += nr
                    }
                    icBlock += block
                }
                pc += kc
            }
            jcBlock += nc
        }
    }
}

extension GEMMBlocking {
    /// Rows of `C` whose packed `Aᵀ` rows `gemmTN` (and its leaves form) holds at once: each packed `B` panel
    /// (depth × one tile's columns: 8 KiB at a per-rank batch of 64 on AVX-512) is then read from L2 once per
    /// eight row panels and served from L1 to the other seven, instead of streamed from L2 for every tile.
    /// The block (16 KiB at a depth of 64) stays in L1 or L2. (`bench kernels --leaves 4`, 784 → 400 weight
    /// gradient at batch 64 on a Xeon: 107 → 124 GFLOP/s.)
    static let transposedRowBlock = 8 * GEMMTile.rows
}
