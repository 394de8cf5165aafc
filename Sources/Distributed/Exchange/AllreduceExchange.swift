import Dispatch
import Model

/// One replica per rank: an in-place allreduce(SUM) of the flat gradient buffer, then the identical Adam
/// update on every rank (ARCHITECTURE.md, "Invariants"). Works for any
/// placement of ranks, across nodes too.
final class AllreduceExchange: GradientExchange {
    let mode = GradientExchangeMode.allreduce
    let parameters: FlatBuffer
    let gradients: FlatBuffer
    let adam: Adam
    let hasReplicas = true
    private let world: any Communicator
    /// Sum in the pairwise tree of ranks (`allreduceSumInTreeOrder`) instead of MPI's order. Two ranks need
    /// no care: every order of `x0 + x1` has the same bits.
    private let treeOrder: Bool
    let sumsInTreeOrder: Bool
    /// With `--overlap`: the thread that sums the gradients bucket by bucket while backward runs.
    private let overlap: BackgroundReduction?
    var gradientsReady: GradientsReady? { overlap.map { overlap in { overlap.ready($0) } } }

    /// `buckets`: overlap the sum with backward in these buckets (always in tree order; needs a
    /// power-of-two world and MPI callable from a second thread).
    init(parameterCount: Int, world: any Communicator, learningRate: Double, weightDecay: Double, treeOrder: Bool = false,
         buckets: GradientBuckets? = nil) {
        self.world = world
        self.treeOrder = treeOrder && world.size > 2
        parameters = FlatBuffer(count: parameterCount)
        gradients = FlatBuffer(count: parameterCount)
        adam = Adam(parameterCount: parameterCount, learningRate: learningRate, weightDecay: weightDecay)
        let gradients = gradients
        overlap = buckets.map { BackgroundReduction(gradients: gradients, buckets: $0, world: world) }
        sumsInTreeOrder = treeOrder || world.size <= 2 || overlap != nil
    }

    deinit { overlap?.stop() }

    func reduceAndUpdate() throws -> ExchangeOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        if let overlap {
            try overlap.finish()
        } else {
            try gradients.withUnsafeMutableBufferPointer {
                if treeOrder { try world.allreduceSumInTreeOrder($0) } else { try world.allreduceSum($0) }
            }
        }
        let exchanged = DispatchTime.now().uptimeNanoseconds - start
        guard gradients[0].isFinite else { return ExchangeOutcome(finite: false, exchangeNanoseconds: exchanged) }
        adam.update(parameters: parameters, gradients: gradients)
        return ExchangeOutcome(finite: true, exchangeNanoseconds: exchanged)
    }

    /// The four buffers go back to the OS (`FlatBuffer.discardContents`): 16 bytes per parameter.
    func releaseMemory() {
        for buffer in [parameters, gradients, adam.firstMoment, adam.secondMoment] { buffer.discardContents() }
    }

    func publish(_ write: () -> Void) throws {
        if world.isRoot { write() }
        for buffer in [parameters, adam.firstMoment, adam.secondMoment] {
            try buffer.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 0) }
        }
    }
}
