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
    /// (`BatchLeaves`): the order the fast `gemmBlockedTNLeaves` uses, written plainly — one product matrix
    /// per leaf, each entry summed in depth order, then neighbours added at distance 1, 2, 4 …
    ///
    /// `rowsDone` and `nextRowBlock` as in the fast kernel (`gemmTN`), with blocks of `rowBlock` rows.
    public static func gemmTN(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, leaves: BatchLeaves, accumulate: Bool,
        rowsDone: ((Range<Int>) -> Void)? = nil, nextRowBlock: ((Int) -> Int?)? = nil
    ) {
        guard let nextRowBlock else {
            gemmTN(a, b, c, m: m, n: n, rows: 0..<m, leaves: leaves, accumulate: accumulate)
            if m > 0 { rowsDone?(0..<m) }
            return
        }
        guard m > 0 else { return }
        let blocks = (m + rowBlock - 1) / rowBlock
        while let index = nextRowBlock(blocks) {
            let rows = (index * rowBlock)..<min(m, (index + 1) * rowBlock)
            gemmTN(a, b, c, m: m, n: n, rows: rows, leaves: leaves, accumulate: accumulate)
            if !rows.isEmpty { rowsDone?(rows) }
        }
    }

    /// The rows of a block when the reference shares out `C` (`nextRowBlock`).
    static let rowBlock = 64

    /// Rows `rows` of the leaves-ordered `Aᵀ · B`.
    static func gemmTN(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, rows: Range<Int>, leaves: BatchLeaves, accumulate: Bool
    ) {
        let size = rows.count * n, c = c + rows.lowerBound * n
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: max(leaves.count * size, 1))
        defer { sums.deallocate() }
        sums.initialize(repeating: 0, count: leaves.count * size)
        for leaf in 0..<leaves.count {
            for p in leaves.range(leaf) {
                for (r, i) in rows.enumerated() {
                    let x = a[p * m + i], row = sums + leaf * size + r * n, bRow = b + p * n
                    for j in 0..<n { row[j] += x * bRow[j] }
                }
            }
        }
        var distance = 1
        while distance < leaves.count {
            for leaf in stride(from: 0, to: leaves.count, by: 2 * distance) {
                let left = sums + leaf * size, right = sums + (leaf + distance) * size
                for e in 0..<size { left[e] += right[e] }
            }
            distance *= 2
        }
        for e in 0..<size { c[e] = (accumulate ? c[e] : 0) + sums[e] }
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
