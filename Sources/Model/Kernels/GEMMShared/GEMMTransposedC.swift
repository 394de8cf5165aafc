/// `gemm` and `gemmTN` for a `C` whose columns fill the lane vectors poorly: they compute `Cᵀ = Bᵀ · Aᵀ`
/// (`Cᵀ = Bᵀ · A` for `gemmTN`) and store each tile transposed, as `gemmBlockedNT` does for deep `k`.
/// Compiled once per instruction set, like the drivers.
///
/// The latent head's weight gradient (400 → 40: `C` is 400 × 40) shows why. With 16-float lanes a row of 40
/// columns is a two-vector panel and a one-vector panel of which half is padding, computed into a scratch
/// tile and copied: 48 lanes of work for 40 floats. Transposed, the 40 columns become five 8-row panels and
/// the 400 rows twelve two-vector panels and one vector, no padding at all. `scripts/bench/kernels-vs-numpy`
/// on a Xeon, batch 32: the weight gradient went from 0.77× OpenBLAS to 1.18×, the forward (`X · W`, 32 × 40)
/// from 0.83× to 1.03×. The AVX2 build's 8-float lanes fit 40 columns exactly, and it keeps computing `C`.
///
/// Each entry of `C` is the same FMA chain per depth block either way (a product's factors commute in an
/// FMA, and a block's sum is added to `C` as in `gemmBlockedTN`), so the two ways give the same bits, and so
/// do the AVX2 and AVX-512 builds whichever way each takes.

/// Whether an `m × n` `C` is computed as `Cᵀ`: where that pads at least 10% fewer lanes (rows of a tile to
/// `GEMMTile.rows`, columns to lane vectors) than computing `C`.
@inline(__always)
func gemmComputesCTransposed(m: Int, n: Int) -> Bool {
    func padded(_ x: Int, to g: Int) -> Int { (x + g - 1) / g * g }
    let rows = GEMMTile.rows, lanes = GEMMLane.scalarCount
    let direct = padded(m, to: rows) * padded(n, to: lanes), transposed = padded(n, to: rows) * padded(m, to: lanes)
    return 10 * transposed < 9 * direct
}

/// `C[m×n] (+)= A · B` (or `Aᵀ · B` with `aStoredTransposed`, `A` stored `[k×m]`), `B` stored `[k×n]`, as
/// `Cᵀ[n×m] = Bᵀ · Aᵀ`: tile rows run over `B`'s columns (read in place: a depth step of a tile's rows is
/// contiguous in `B`), tile columns over `A`'s rows (packed into column panels of `Aᵀ` per depth block:
/// transposed from `A`, or copied from an `A` stored transposed), and each tile is stored transposed into `C`.
func gemmBlockedCTransposed(
    _ a: UnsafePointer<Float>, aStoredTransposed: Bool, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    let mr = GEMMTile.rows, nr = GEMMTile.columns
    let kcMax = min(k, GEMMBlocking.depth)
    let mcMax = min((m + nr - 1) / nr * nr, GEMMBlocking.width)
    withUnsafeTemporaryAllocation(of: Float.self, capacity: kcMax * mcMax + mr * nr) { scratch in
        let packedA = scratch.baseAddress!, tile = packedA + kcMax * mcMax
        var jcBlock = 0  // over columns of A = rows of C
        while jcBlock < m {
            let mc = min(GEMMBlocking.width, m - jcBlock)
            var pc = 0
            while pc < k {
                let kc = min(GEMMBlocking.depth, k - pc)
                let acc = accumulate || pc > 0
                // Aᵀ's block: from A stored [m×k] (transposing), or stored [k×m] (copying).
                gemmPackPanels(a, storedTransposed: !aStoredTransposed, ld: aStoredTransposed ? m : k, p0: pc, j0: jcBlock,
                               depth: kc, columns: mc, into: packedA)
                var ic = 0  // over columns of B = columns of C
                while ic < n {
                    let rows = min(mr, n - ic), bRows = b + pc * n + ic
                    var jc = 0
                    while jc < mc {
                        let columns = min(nr, mc - jc), panel = UnsafePointer(packedA + jc * kc)
                        if rows == mr && columns == nr {
                            gemmMicroKernel(depth: kc, a: bRows, aRowStride: 1, aDepthStride: n,
                                            b: panel, bDepthStride: nr, c: tile, ldc: nr, accumulate: false)
                        } else {
                            gemmMicroKernelRows(rows, vectors: columns > GEMMLane.scalarCount ? 2 : 1, depth: kc, a: bRows,
                                                aRowStride: 1, aDepthStride: n, b: panel, bDepthStride: nr, c: tile, ldc: nr,
                                                accumulate: false)
                        }
                        gemmStoreTileTransposed(tile, rows: rows, columns: columns, into: c + (jcBlock + jc) * n + ic,
                                                ldc: n, accumulate: acc)
                        jc += nr
                    }
                    ic += mr
                }
                pc += kc
            }
            jcBlock += mc
        }
    }
}
