/// The `A · Bᵀ` form of the GEMM (`gemmNT`: the input gradient `dY · Wᵀ`), compiled once per instruction set
/// like the other drivers (GEMMDrivers.swift): for thin `k` through `gemmBlockedNN` with `Bᵀ` packed, for
/// deep `k` as `Cᵀ = B · Aᵀ` with `W` read in place.

/// `C[m×n] (+)= A · Bᵀ`, `A` stored `[m×k]`, `B` stored `[n×k]`, computed as `Cᵀ = B · Aᵀ`:
/// tile rows run over `B`'s rows (read in place, row stride `k`), tile columns over `A`'s rows
/// (packed transposed), and each tile is stored transposed into `C`.
func gemmBlockedNT(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    if gemmTrivial(c, m: m, n: n, k: k, accumulate: accumulate) { return }
    let mr = GEMMTile.rows, nr = GEMMTile.columns
    let kcMax = min(k, GEMMBlocking.depth)
    let mPadded = (m + nr - 1) / nr * nr
    withScratch(mPadded * kcMax + mr * nr) { scratch in
        let packedAT = scratch, tile = scratch + mPadded * kcMax
        var pc = 0
        while pc < k {
            let kc = min(GEMMBlocking.depth, k - pc)
            let acc = accumulate || pc > 0
            gemmPackTransposedPanels(a + pc, rowStride: k, count: m, depth: kc, into: packedAT)
            var ic = 0  // over rows of B = columns of C
            while ic < n {
                let rows = min(mr, n - ic)
                let bRows = b + ic * k + pc
                var jc = 0  // over rows of A = rows of C
                while jc < m {
                    let columns = min(nr, m - jc)
                    if rows == mr && columns == nr {
                        gemmMicroKernel(depth: kc, a: bRows, aRowStride: k, aDepthStride: 1,
                                        b: packedAT + jc * kc, bDepthStride: nr, c: tile, ldc: nr, accumulate: false)
                    } else {
                        gemmMicroKernelRows(rows, vectors: columns > GEMMLane.scalarCount ? 2 : 1, depth: kc, a: bRows, aRowStride: k, aDepthStride: 1,
                                            b: packedAT + jc * kc, bDepthStride: nr, c: tile, ldc: nr, accumulate: false)
                    }
                    gemmStoreTileTransposed(tile, rows: rows, columns: columns, into: c + jc * n + ic, ldc: n, accumulate: acc)
                    jc += nr
                }
                ic += mr
            }
            pc += kc
        }
    }
}

/// `C[m×n] (+)= A · Bᵀ`, `A` stored `[m×k]`, `B` stored `[n×k]`, whichever of the two ways is cheaper.
/// Each pays one scalar transposition: packing `Bᵀ` costs ~n·k, computing `Cᵀ = B·Aᵀ` and storing its
/// tiles transposed costs ~m·n. With m the batch, `Cᵀ` wins from k ≈ 2m up and packing wins for thin
/// k (the latent layers), on both instruction sets (`vae-dist bench kernels` times both shapes).
func gemmBlockedABt(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    if k < 2 * m {
        gemmBlockedNN(a, b, c, m: m, n: n, k: k, accumulate: accumulate, bTransposed: true)
    } else {
        gemmBlockedNT(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
    }
}
