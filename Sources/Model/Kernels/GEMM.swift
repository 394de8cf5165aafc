/// Matrix products in the three forms a training step needs. All matrices are row-major and dense.
///
/// With a linear layer's weight stored `W[in × out]`:
/// - forward          `Y  = X · W`      → `gemm`      (A·B)
/// - weight gradient  `dW += Xᵀ · dY`   → `gemmTN`    (Aᵀ·B)
/// - input gradient   `dX = dY · Wᵀ`    → `gemmNT`    (A·Bᵀ)
///
/// `accumulate: true` adds into `c`; `false` overwrites it. Shapes may be anything ≥ 0 (a zero
/// dimension is a no-op, or zero-fills `c` when overwriting an `m×n` with `k == 0`).
///
/// These are the public entry points. They call the kernels `GEMMDispatch` chose for this CPU: cache-
/// blocked loops (GEMMShared/GEMMDrivers.swift) around one register-blocked SIMD micro-kernel
/// (GEMMShared/GEMMMicroKernel.swift), compiled for AVX2 here and for AVX-512 in `KernelsAVX512`;
/// `GEMMReference` keeps the naive triple loops the tests compare against. Single-threaded: each MPI
/// rank uses one core.

/// `C[m×n] (+)= A[m×k] · B[k×n]`
public func gemm(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    GEMMProfile.measure(.forward, m: m, n: n, k: k) { GEMMDispatch.active.gemm(a, b, c, m, n, k, accumulate) }
}

/// `C[m×n] (+)= Aᵀ · B` with `A` stored `[k×m]` and `B` stored `[k×n]`.
public func gemmTN(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    GEMMProfile.measure(.weightGradient, m: m, n: n, k: k) { GEMMDispatch.active.gemmTN(a, b, c, m, n, k, accumulate) }
}

/// `C[m×n] (+)= Aᵀ · B` with `A` stored `[k×m]`, `B` stored `[k×n]` and `k = leaves.rows`, the depth
/// summed in `leaves`' order (each leaf in order, the leaves pairwise). One leaf is plain `gemmTN`.
/// `rowsDone` hears bands of `C`'s rows, covering `0 ..< m` once from the last band to the first, each as
/// soon as it is final: with several leaves, band by band as the kernel goes (a layer's weight gradient
/// handed on in parts); with one, all rows at the end.
///
/// `nextRowBlock` shares one `C` out among callers — ranks computing a slower rank's weight gradient with
/// it (`WeightGradientSharing`): called with the number of blocks of rows, it returns the next block
/// this call computes, or nil to stop. The blocks computed by all callers together have the bits of one
/// call alone; `rowsDone` hears this call's. (With it, one leaf goes through the leaves kernel as well.)
public func gemmTN(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, leaves: BatchLeaves, accumulate: Bool, rowsDone: ((Range<Int>) -> Void)? = nil,
    nextRowBlock: ((Int) -> Int?)? = nil
) {
    if leaves.count == 1 && nextRowBlock == nil {
        gemmTN(a, b, c, m: m, n: n, k: leaves.rows, accumulate: accumulate)
        if m > 0 { rowsDone?(0..<m) }
        return
    }
    func run(_ rowsDone: ((Range<Int>) -> Void)?) {
        leaves.boundaries.withUnsafeBufferPointer {
            GEMMDispatch.active.gemmTNLeaves(a, b, c, m, n, $0, accumulate, rowsDone, nextRowBlock)
        }
    }
    guard GEMMProfile.isEnabled && nextRowBlock != nil else {
        return GEMMProfile.measure(.weightGradient, m: m, n: n, k: leaves.rows, leaves: leaves.count) { run(rowsDone) }
    }
    // Shared out: the profile counts the FLOPs of the rows this call computed, the bands `rowsDone` hears.
    var rows = 0
    GEMMProfile.measure(.weightGradient, m: m, n: n, k: leaves.rows, leaves: leaves.count, computedRows: { rows }) {
        run { rows += $0.count; rowsDone?($0) }
    }
}

/// `C[m×n] (+)= A · Bᵀ` with `A` stored `[m×k]` and `B` stored `[n×k]`.
public func gemmNT(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    GEMMProfile.measure(.inputGradient, m: m, n: n, k: k) { GEMMDispatch.active.gemmNT(a, b, c, m, n, k, accumulate) }
}
