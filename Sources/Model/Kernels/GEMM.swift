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
/// These are the public entry points. The fast paths are cache-blocked loops (GEMMDrivers.swift)
/// around one register-blocked SIMD micro-kernel (GEMMMicroKernel.swift); `GEMMReference` keeps the
/// naive triple loops the tests compare against. Single-threaded: each MPI rank uses one core.

/// `C[m×n] (+)= A[m×k] · B[k×n]`
public func gemm(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    gemmBlockedNN(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
}

/// `C[m×n] (+)= Aᵀ · B` with `A` stored `[k×m]` and `B` stored `[k×n]`.
public func gemmTN(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    gemmBlockedTN(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
}

/// `C[m×n] (+)= A · Bᵀ` with `A` stored `[m×k]` and `B` stored `[n×k]`.
public func gemmNT(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool
) {
    // Two ways, each paying one scalar transposition: packing `Bᵀ` costs ~n·k, computing `Cᵀ = B·Aᵀ`
    // and storing its tiles transposed costs ~m·n. Measured on Zen 4 (m = batch 64/128): `Cᵀ` wins
    // from k ≈ 2m up (k = 500–1000: ~95 vs ~70 GFLOP/s), packing wins for thin k (k = 40–60: ~70 vs ~45).
    if k < 2 * m {
        gemmBlockedNN(a, b, c, m: m, n: n, k: k, accumulate: accumulate, bTransposed: true)
    } else {
        gemmBlockedNT(a, b, c, m: m, n: n, k: k, accumulate: accumulate)
    }
}
