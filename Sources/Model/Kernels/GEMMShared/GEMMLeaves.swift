/// `C[m×n] (+)= Aᵀ · B` summed over the depth (the batch) in `BatchLeaves` order: one FMA chain per leaf
/// from zero, the leaf tiles added in the pairwise tree, the root written to `C`. The weight gradient of a
/// layer then has the same bits whether one rank holds all the leaves or each of n ranks holds its
/// subtree (see BatchLeaves.swift). Compiled once per instruction set, like `gemmBlockedTN`.
///
/// `boundaries` are the leaves' start offsets into the depth, then `k` (a power-of-two count of leaves).
/// The whole depth of a column block is packed at once (or read in place, `gemmReadsBInPlace`), so all
/// leaves of one `C` tile are computed in a row while the tree's partial sums sit in L1: scratch tile `level` holds the pending sum of 2^level
/// leaves (a binary counter). Leaf `i`, with `t` trailing one bits, adds tiles `0 ..< t` to its
/// accumulators as the micro-kernel stores them — `tile[t−1] + (… + (tile[0] + leaf))` — and stores the
/// result into tile `t`, which is free at that moment; the last leaf stores the root straight into `C`.
/// So the tree costs the loads of the pending tiles and no extra pass. The column block shrinks as the
/// batch grows, so the packed block stays the size `gemmBlockedTN` uses.
///
/// `rowsDone`, when given, hears each band of `C`'s rows as soon as it is final (in the last column
/// block), so that a caller can hand the finished rows of a weight gradient on while the rest is computed.
/// The bands cover `0 ..< m` once, the last band first.
///
/// `nextRowBlock`, when given, chooses the bands: called with the number of blocks of
/// `gemmLeavesSharedRows(m:)` rows, it returns the index of the next one to compute, or nil to stop. Every
/// tile is computed as without it, so callers that share out the blocks of one `C` — ranks that help a
/// slower one with its weight gradient — together write the same bits as one call alone.
func gemmBlockedTNLeaves(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, boundaries: UnsafeBufferPointer<Int>, accumulate: Bool, rowsDone: ((Range<Int>) -> Void)?,
    nextRowBlock: ((Int) -> Int?)? = nil
) {
    let leafCount = boundaries.count - 1, k = boundaries[leafCount]
    precondition(leafCount >= 1 && leafCount & (leafCount - 1) == 0 && boundaries[0] == 0, "GEMM leaves: bad boundaries")
    if m <= 0 || n <= 0 {
        guard m > 0 else { return }
        // Nothing to compute: the rows are final at once, one block for whoever takes it.
        if let nextRowBlock {
            while nextRowBlock(1) != nil { rowsDone?(0..<m) }
        } else {
            rowsDone?(0..<m)
        }
        return
    }
    let mr = GEMMTile.rows, nr = GEMMTile.columns, tileSize = mr * nr
    let levels = leafCount.trailingZeroBitCount
    let depth = max(k, 1)
    let ncMax = min((n + nr - 1) / nr * nr, max(nr, GEMMBlocking.depth * GEMMBlocking.width / depth / nr * nr))
    let inPlace = gemmReadsBInPlace(m: m, n: n), bStep = inPlace ? n : nr, packedBSize = inPlace ? 0 : depth * ncMax
    let rowBlock = min((m + mr - 1) / mr * mr, GEMMBlocking.transposedRowBlock)
    // Scratch: the packed B block, a row block of packed Aᵀ rows, one tile per tree level and one for an edge leaf.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: packedBSize + depth * rowBlock + (levels + 1) * tileSize) { scratch in
        let packedB = scratch.baseAddress!, packedA = packedB + packedBSize, tiles = packedA + depth * rowBlock
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: levels + 1) { slots in
            for level in 0...levels { slots[level] = tiles + level * tileSize }
            let pending = UnsafePointer(slots.baseAddress!)
            var packedColumnBlock = -1
            /// Rows `icBlock ..< icBlock + block` of `C` in columns `jcBlock ..< jcBlock + nc`.
            func computeBlock(_ icBlock: Int, _ block: Int, _ jcBlock: Int, _ nc: Int) {
                if !inPlace && packedColumnBlock != jcBlock {
                    gemmPackColumnPanels(b + jcBlock, rowStride: n, columns: nc, depth: k, into: packedB)
                    packedColumnBlock = jcBlock
                }
                // As gemmBlockedTN: a contiguous copy of Aᵀ's rows pays off over many column panels. Copied a
                // row block at a time, so that each B panel then serves the block's row panels from L1.
                let packA = nc >= 8 * nr
                if packA {
                    for i in stride(from: 0, to: block, by: mr) {
                        gemmPackDepthRows(a + icBlock + i, depthStride: m, rows: min(mr, block - i), depth: k,
                                          into: packedA + i * k)
                    }
                }
                var jc = 0
                while jc < nc {
                    let columns = min(nr, nc - jc)
                    let bPanel = inPlace ? b + jcBlock + jc : UnsafePointer(packedB + jc * k)
                    var i = 0
                    while i < block {
                        let ic = icBlock + i, rows = min(mr, block - i), cTile = c + ic * n + jcBlock + jc
                        let aPanel = packA ? UnsafePointer(packedA + i * k) : a + ic, aStep = packA ? mr : m
                        // C's lines are cold (`gemmPrefetchTile`); they arrive while the leaves run.
                        gemmPrefetchTile(cTile, rows: rows, columns: columns, ldc: n)
                        for leaf in 0..<leafCount {
                            let start = boundaries[leaf], leafDepth = boundaries[leaf + 1] - start
                            let adds = (~leaf).trailingZeroBitCount, last = leaf == leafCount - 1
                            if rows == mr && columns == nr {
                                gemmMicroKernel(depth: leafDepth, a: aPanel + start * aStep, aRowStride: 1,
                                                aDepthStride: aStep, b: bPanel + start * bStep, bDepthStride: bStep,
                                                c: last ? cTile : pending[adds], ldc: last ? n : nr,
                                                accumulate: last && accumulate, adding: pending, tileCount: adds)
                            } else {
                                gemmLeafEdgeTile(rows: rows, columns: columns, depth: leafDepth, a: aPanel + start * aStep,
                                                 aStep: aStep, b: bPanel + start * bStep, bStep: bStep, pending: pending,
                                                 adds: adds, into: last ? cTile : pending[adds], ldc: last ? n : nr,
                                                 accumulate: last && accumulate, scratch: pending[levels])
                            }
                        }
                        i += mr
                    }
                    jc += nr
                }
            }
            if let nextRowBlock {
                // Chosen bands, each through every column block (B is packed again only when there are several).
                let sharedRows = gemmLeavesSharedRows(m: m), blocks = (m + sharedRows - 1) / sharedRows
                while let index = nextRowBlock(blocks) {
                    precondition((0..<blocks).contains(index), "GEMM leaves: row block \(index) of \(blocks)")
                    let icBlock = index * sharedRows, block = min(sharedRows, m - icBlock)
                    var jcBlock = 0
                    while jcBlock < n {
                        let nc = min(ncMax, n - jcBlock)
                        computeBlock(icBlock, block, jcBlock, nc)
                        jcBlock += nc
                    }
                    rowsDone?(icBlock..<(icBlock + block))
                }
                return
            }
            var jcBlock = 0
            while jcBlock < n {
                let nc = min(ncMax, n - jcBlock)
                // Without a packed copy of Aᵀ, blocks of one row panel: the bands come finer at no cost.
                let blockRows = nc >= 8 * nr ? rowBlock : mr
                // The row blocks from the last to the first: backward hands a model's parameters on from
                // the end (`rowsDone`), and the shared-memory exchange takes them in that order.
                var icBlock = (m - 1) / blockRows * blockRows
                while icBlock >= 0 {
                    let block = min(blockRows, m - icBlock)
                    computeBlock(icBlock, block, jcBlock, nc)
                    if jcBlock + nc == n { rowsDone?(icBlock..<(icBlock + block)) }
                    icBlock -= blockRows
                }
                jcBlock += nc
            }
        }
    }
}

/// The rows of one block of `gemmBlockedTNLeaves`'s `nextRowBlock`: half a packed row block, so that a
/// rank that has taken the last block leaves the others little to wait for.
func gemmLeavesSharedRows(m: Int) -> Int {
    min((max(m, 1) + GEMMTile.rows - 1) / GEMMTile.rows * GEMMTile.rows, GEMMBlocking.transposedRowBlock / 2)
}

/// One leaf of a partial tile (fewer rows or columns): the edge micro-kernel with the same fused adds as a
/// full tile. A tile narrower than the panel goes through `scratch` to `C` (the kernel writes whole vectors).
private func gemmLeafEdgeTile(
    rows: Int, columns: Int, depth: Int, a: UnsafePointer<Float>, aStep: Int, b: UnsafePointer<Float>, bStep: Int,
    pending: UnsafePointer<UnsafeMutablePointer<Float>>, adds: Int,
    into target: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, scratch: UnsafeMutablePointer<Float>
) {
    let nr = GEMMTile.columns, narrow = columns < nr && ldc != nr
    gemmMicroKernelRows(rows, vectors: columns > GEMMLane.scalarCount ? 2 : 1, depth: depth, a: a, aRowStride: 1,
                        aDepthStride: aStep, b: b, bDepthStride: bStep, c: narrow ? scratch : target, ldc: narrow ? nr : ldc,
                        accumulate: accumulate && !narrow, adding: pending, tileCount: adds)
    if narrow { gemmStoreTile(scratch, rows: rows, columns: columns, into: target, ldc: ldc, accumulate: accumulate) }
}
