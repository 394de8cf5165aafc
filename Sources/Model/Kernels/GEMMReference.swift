/// Naive triple loops: the ground truth for the fast GEMM kernels. Slow on purpose; never used in training.
public enum GEMMReference {
    /// `C[m×n] (+)= A[m×k] · B[k×n]`
    public static func gemm(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, accumulate: Bool
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = accumulate ? c[i * n + j] : 0
                for p in 0..<k { sum += a[i * k + p] * b[p * n + j] }
                c[i * n + j] = sum
            }
        }
    }

    /// `C[m×n] (+)= Aᵀ · B`, `A` stored `[k×m]`, `B` stored `[k×n]`.
    public static func gemmTN(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, accumulate: Bool
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = accumulate ? c[i * n + j] : 0
                for p in 0..<k { sum += a[p * m + i] * b[p * n + j] }
                c[i * n + j] = sum
            }
        }
    }

    /// `C[m×n] (+)= Aᵀ · B` with the depth summed leaf by leaf and the leaves added in the pairwise tree
    /// (`BatchLeaves`): the order the fast `gemmBlockedTNLeaves` uses, written plainly.
    public static func gemmTN(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, leaves: BatchLeaves, accumulate: Bool
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var tree = PairwiseFold<Float>()
                for leaf in 0..<leaves.count {
                    var sum: Float = 0
                    for p in leaves.range(leaf) { sum += a[p * m + i] * b[p * n + j] }
                    tree.push(sum)
                }
                c[i * n + j] = (accumulate ? c[i * n + j] : 0) + tree.result!
            }
        }
    }

    /// `C[m×n] (+)= A · Bᵀ`, `A` stored `[m×k]`, `B` stored `[n×k]`.
    public static func gemmNT(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, accumulate: Bool
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = accumulate ? c[i * n + j] : 0
                for p in 0..<k { sum += a[i * k + p] * b[j * k + p] }
                c[i * n + j] = sum
            }
        }
    }
}
