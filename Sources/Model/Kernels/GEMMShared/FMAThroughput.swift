// The FMA peak of one core for this target's lane width, compiled once per instruction set like the
// GEMM kernels. `GEMMDispatch` compares the two widths at start: AVX-512 pays only on CPUs that
// execute a 512-bit FMA as fast as a 256-bit one (two full-width FMA units), not on those that
// split it in two.

/// Independent chains: enough to cover the FMA latency (4 cycles) on two units with room to spare.
let fmaThroughputChains = 12

/// FLOPs one iteration of `fmaThroughputLoop` does.
let fmaThroughputFlopsPerIteration = 2 * fmaThroughputChains * GEMMLane.scalarCount

/// `iterations` steps of `fmaThroughputChains` independent fused multiply-add chains on lane
/// vectors, `c = c·x + y`, which converges (no overflow, no subnormals to slow it down). Returns a sum of all chains so that none is optimized away.
@inline(never)
func fmaThroughputLoop(iterations: Int, seed: Float) -> Float {
    typealias V = GEMMLane
    let x = V(repeating: 0.999_9), y = V(repeating: seed)
    var c0 = V(repeating: 1), c1 = V(repeating: 2), c2 = V(repeating: 3), c3 = V(repeating: 4)
    var c4 = V(repeating: 5), c5 = V(repeating: 6), c6 = V(repeating: 7), c7 = V(repeating: 8)
    var c8 = V(repeating: 9), c9 = V(repeating: 10), cA = V(repeating: 11), cB = V(repeating: 12)
    for _ in 0..<iterations {
        c0 = y.addingProduct(c0, x); c1 = y.addingProduct(c1, x); c2 = y.addingProduct(c2, x); c3 = y.addingProduct(c3, x)
        c4 = y.addingProduct(c4, x); c5 = y.addingProduct(c5, x); c6 = y.addingProduct(c6, x); c7 = y.addingProduct(c7, x)
        c8 = y.addingProduct(c8, x); c9 = y.addingProduct(c9, x); cA = y.addingProduct(cA, x); cB = y.addingProduct(cB, x)
    }
    let sum = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (cA + cB))
    return sum.sum()
}
