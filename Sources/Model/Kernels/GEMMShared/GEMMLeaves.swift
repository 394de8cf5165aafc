/// `C[m×n] (+)= Aᵀ · B` summed over the depth (the batch) in `BatchLeaves` order: one FMA chain per leaf
/// from zero, the leaf tiles added in the pairwise tree, the root written to `C`. The weight gradient of a
/// layer then has the same bits whether one rank holds all the leaves or each of n ranks holds its
/// subtree (see BatchLeaves.swift). Compiled once per instruction set, like `gemmBlockedTN`.
///
/// `boundaries` are the leaves' start offsets into the depth, then `k` (a power-of-two count of leaves).
/// The whole depth of a column block is packed at once, so every leaf of a `C` tile is computed while
/// its partial sums sit in a few scratch tiles in L1: the tree costs one tile store and one tile add per
/// leaf, not a pass over the whole gradient per leaf. The column block shrinks as the batch grows so
/// the packed block stays the size `gemmBlockedTN` uses.
func gemmBlockedTNLeaves(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, boundaries: UnsafeBufferPointer<Int>, accumulate: Bool
) {
    let leafCount = boundaries.count - 1, k = boundaries[leafCount]
    precondition(leafCount >= 1 && leafCount & (leafCount - 1) == 0 && boundaries[0] == 0, "GEMM leaves: bad boundaries")
    if m <= 0 || n <= 0 { return }
    let mr = GEMMTile.rows, nr = GEMMTile.columns, tileSize = mr * nr
    var levels = 0
    while 1 << levels < leafCount { levels += 1 }
    let budget = GEMMBlocking.depth * GEMMBlocking.width
    let ncMax = min((n + nr - 1) / nr * nr, max(nr, budget / max(k, 1) / nr * nr))
    // Scratch: the packed B block, the packed Aᵀ rows, and one tile per tree level plus the leaf's own.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(k, 1) * ncMax + max(k, 1) * mr + (levels + 1) * tileSize) { scratch in
        let packedB = scratch.baseAddress!, packedA = packedB + max(k, 1) * ncMax, tiles = packedA + max(k, 1) * mr
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: max(levels, 1)) { pendingTiles in
            var jcBlock = 0
            while jcBlock < n {
                let nc = min(ncMax, n - jcBlock)
                gemmPackColumnPanels(b + jcBlock, rowStride: n, columns: nc, depth: k, into: packedB)
                var ic = 0
                while ic < m {
                    let rows = min(mr, m - ic)
                    var aPanel = a + ic, aStep = m
                    if nc >= 8 * nr {  // as gemmBlockedTN: a contiguous copy pays off over many column panels
                        gemmPackDepthRows(aPanel, depthStride: m, rows: rows, depth: k, into: packedA)
                        aPanel = UnsafePointer(packedA); aStep = mr
                    }
                    var jc = 0
                    while jc < nc {
                        let columns = min(nr, nc - jc), vectors = columns > GEMMLane.scalarCount ? 2 : 1
                        let bPanel = packedB + jc * k
                        // Binary counter over the leaves: slot `level` holds the pending sum of 2^level leaves.
                        var leafTile = tiles + levels * tileSize
                        for level in 0..<levels { pendingTiles[level] = tiles + level * tileSize }
                        for leaf in 0..<leafCount {
                            let start = boundaries[leaf], depth = boundaries[leaf + 1] - start
                            if rows == mr && columns == nr {
                                gemmMicroKernel(depth: depth, a: aPanel + start * aStep, aRowStride: 1, aDepthStride: aStep,
                                                b: bPanel + start * nr, bDepthStride: nr, c: leafTile, ldc: nr, accumulate: false)
                            } else {
                                gemmMicroKernelRows(rows, vectors: vectors, depth: depth, a: aPanel + start * aStep,
                                                    aRowStride: 1, aDepthStride: aStep, b: bPanel + start * nr,
                                                    bDepthStride: nr, c: leafTile, ldc: nr, accumulate: false)
                            }
                            var level = 0, index = leaf
                            while index & 1 == 1 {
                                gemmAddTile(pendingTiles[level], into: leafTile, rows: rows)
                                level += 1
                                index >>= 1
                            }
                            if level < levels { swap(&pendingTiles[level], &leafTile) }
                        }
                        // After the last of a power-of-two count of leaves every level has been added: the root.
                        gemmStoreTile(leafTile, rows: rows, columns: columns, into: c + ic * n + jcBlock + jc, ldc: n,
                                      accumulate: accumulate)
                        jc += nr
                    }
                    ic += mr
                }
                jcBlock += nc
            }
        }
    }
}

/// `tile += other` over the first `rows` rows of two full scratch tiles (row stride `GEMMTile.columns`).
@inline(__always)
func gemmAddTile(_ other: UnsafePointer<Float>, into tile: UnsafeMutablePointer<Float>, rows: Int) {
    let lanes = GEMMLane.scalarCount
    let source = UnsafeRawPointer(other), target = UnsafeMutableRawPointer(tile)
    for v in 0..<(rows * GEMMTile.columns / lanes) {
        let offset = v * lanes * MemoryLayout<Float>.stride
        target.storeBytes(of: source.loadUnaligned(fromByteOffset: offset, as: GEMMLane.self)
                              + target.loadUnaligned(fromByteOffset: offset, as: GEMMLane.self),
                          toByteOffset: offset, as: GEMMLane.self)
    }
}
