import Model

/// Where one rank's training steps spend their time, summed over an epoch: what `vae-dist bench train
/// --profile` prints. GEMM times and FLOPs come from `GEMMProfile` (enabled by the trainer's
/// `profilesPhases`); the other phases are timed around the step's parts.
public struct StepPhases: Sendable, Equatable {
    /// Building the local batch: indices, labels, pixels.
    public var batchNanoseconds: UInt64 = 0
    /// Zeroing the gradient buffer.
    public var zeroNanoseconds: UInt64 = 0
    /// `gemm` calls (`X·W`).
    public var forwardGEMMNanoseconds: UInt64 = 0
    /// `gemmTN` and `gemmNT` calls (`Xᵀ·dY`, `dY·Wᵀ`).
    public var backwardGEMMNanoseconds: UInt64 = 0
    /// The part of `backwardGEMMNanoseconds` spent on blocks of slower ranks' weight gradients, while
    /// waiting for them in the exchange (`WeightGradientHelp`).
    public var assistNanoseconds: UInt64 = 0
    /// The rest of forward and backward: bias, activations, sampling, loss (forward/backward minus GEMMs).
    public var elementwiseNanoseconds: UInt64 = 0
    /// The gradient exchange, whichever runs: its allreduces and its waits at shared-memory barriers.
    public var exchangeNanoseconds: UInt64 = 0
    /// Adam (in shared memory: summing the ranks' gradients and Adam, one pass).
    public var optimizerNanoseconds: UInt64 = 0
    /// The whole steps.
    public var stepNanoseconds: UInt64 = 0
    /// FLOPs of the GEMMs (2mnk each).
    public var gemmFlops: Double = 0
    public var steps = 0

    public init() {}

    /// The phases in print order, with their names.
    public var named: [(name: String, nanoseconds: UInt64)] {
        let known = batchNanoseconds + zeroNanoseconds + forwardGEMMNanoseconds + backwardGEMMNanoseconds
            + elementwiseNanoseconds + exchangeNanoseconds + optimizerNanoseconds
        return [("batch", batchNanoseconds), ("zero grads", zeroNanoseconds), ("fwd GEMM", forwardGEMMNanoseconds),
                ("bwd GEMM", backwardGEMMNanoseconds), ("elementwise", elementwiseNanoseconds),
                ("exchange", exchangeNanoseconds), ("optimizer", optimizerNanoseconds),
                ("other", stepNanoseconds > known ? stepNanoseconds - known : 0)]
    }

    /// As 11 numbers, for a gather across ranks.
    public var encoded: [Double] {
        [batchNanoseconds, zeroNanoseconds, forwardGEMMNanoseconds, backwardGEMMNanoseconds, elementwiseNanoseconds,
         exchangeNanoseconds, optimizerNanoseconds, stepNanoseconds].map { Double($0) }
            + [gemmFlops, Double(steps), Double(assistNanoseconds)]
    }

    public init?(encoded v: [Double]) {
        guard v.count == 11, v.allSatisfy({ $0 >= 0 && $0.isFinite }) else { return nil }
        (batchNanoseconds, zeroNanoseconds, forwardGEMMNanoseconds, backwardGEMMNanoseconds) =
            (UInt64(v[0]), UInt64(v[1]), UInt64(v[2]), UInt64(v[3]))
        (elementwiseNanoseconds, exchangeNanoseconds, optimizerNanoseconds, stepNanoseconds) =
            (UInt64(v[4]), UInt64(v[5]), UInt64(v[6]), UInt64(v[7]))
        gemmFlops = v[8]
        steps = Int(v[9])
        assistNanoseconds = UInt64(v[10])
    }
}
