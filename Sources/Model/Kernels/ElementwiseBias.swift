/// Activation applied after a linear layer's bias.
public enum Activation: String, Sendable, Equatable {
    case identity
    case relu
}

/// Bias add (+ ReLU), forward and backward, each one pass over the `rows × cols` activations.
///
/// The linear layer computes `Y = X·W` with GEMM (overwriting `Y`), then `biasActivationForward` adds
/// the bias row and applies the activation in place. Backward takes `dY` with respect to the activation's
/// *output*, masks it in place with ReLU's derivative (read from the stored output: y > 0), and adds its
/// column sums into the bias gradient — the bias gradient of a batch is Σ over rows of dY.
public enum ElementwiseBias {
    /// `y[r, :] = act(y[r, :] + bias)` in place.
    public static func forward(
        _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation
    ) {
        let relu = activation == .relu
        for r in 0..<rows {
            let row = y + r * cols
            VectorMath.forEachBlock(0..<cols) { j, n in
                var v = VectorMath.loadPartial(row + j, count: n) + VectorMath.loadPartial(bias + j, count: n)
                if relu { v = v.replacing(with: 0, where: v .< 0) }
                VectorMath.storePartial(v, row + j, count: n)
            }
        }
    }

    /// In place `dy ← dy ⊙ act′` (ReLU: 1 where the stored output y > 0) and `biasGradient = Σ_rows dy`
    /// (overwritten: a layer's bias gradient has one writer per step, so no pass zeroes the buffer first).
    /// The rows are summed in `leaves`' order: each leaf in row order, the leaf sums pairwise (`BatchLeaves`).
    public static func backward(
        _ dy: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        leaves: BatchLeaves, cols: Int, activation: Activation
    ) {
        let relu = activation == .relu
        var levels = 0
        while 1 << levels < leaves.count { levels += 1 }
        withUnsafeTemporaryAllocation(of: VectorMath.Vector.self, capacity: levels + 1) { pending in
            // Column blocks outermost: the 16 bias-gradient sums stay in one register across a leaf's rows.
            VectorMath.forEachBlock(0..<cols) { j, n in
                var sum = VectorMath.Vector()
                for leaf in 0..<leaves.count {
                    sum = VectorMath.Vector()
                    for r in leaves.range(leaf) {
                        let offset = r * cols + j
                        var g = VectorMath.loadPartial(dy + offset, count: n)
                        if relu {
                            let out = VectorMath.loadPartial(y + offset, count: n)
                            g = g.replacing(with: 0, where: out .<= 0)
                            VectorMath.storePartial(g, dy + offset, count: n)
                        }
                        sum += g
                    }
                    // Binary counter: add the pending sums of the levels where `leaf` has trailing ones.
                    var level = 0, index = leaf
                    while index & 1 == 1 {
                        sum = pending[level] + sum
                        level += 1
                        index >>= 1
                    }
                    pending[level] = sum
                }
                VectorMath.storePartial(sum, biasGradient + j, count: n)
            }
        }
    }

    /// `backward` with all `rows` in one leaf.
    public static func backward(
        _ dy: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        rows: Int, cols: Int, activation: Activation
    ) {
        backward(dy, output: y, biasGradient: biasGradient, leaves: .whole(rows), cols: cols, activation: activation)
    }
}

/// Naive scalar versions of the elementwise kernels: ground truth for the tests, never used in training.
public enum ElementwiseReference {
    public static func biasForward(
        _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation
    ) {
        for r in 0..<rows {
            for c in 0..<cols {
                let v = y[r * cols + c] + bias[c]
                y[r * cols + c] = activation == .relu ? max(v, 0) : v
            }
        }
    }

    public static func biasBackward(
        _ dy: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        rows: Int, cols: Int, activation: Activation
    ) {
        biasBackward(dy, output: y, biasGradient: biasGradient, leaves: .whole(rows), cols: cols, activation: activation)
    }

    /// Each leaf's column sums in row order, the leaves added with `PairwiseSum.tree`.
    public static func biasBackward(
        _ dy: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        leaves: BatchLeaves, cols: Int, activation: Activation
    ) {
        for c in 0..<cols {
            let sums = (0..<leaves.count).map { leaf in
                var sum: Float = 0
                for r in leaves.range(leaf) {
                    if activation == .relu && y[r * cols + c] <= 0 { dy[r * cols + c] = 0 }
                    sum += dy[r * cols + c]
                }
                return sum
            }
            biasGradient[c] = PairwiseSum.tree(sums.count) { sums[$0] }
        }
    }
}
