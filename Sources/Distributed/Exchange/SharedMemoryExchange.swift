import Dispatch
import Model

/// One copy of the parameters and of Adam's moments for all ranks of a node, in a `NodeSharedMemory`
/// window; rank r's gradients in its own segment. A step is
///
///     backward into my gradient segment · synchronize · for my 1/n slice of the parameters:
///     g = Σ_r gradients_r (pairwise, `PairwiseSum`), Adam on the slice · synchronize
///
/// so the reduction and the optimizer are one pass that reads each gradient once, each rank updates only
/// 1/n of the parameters, and nothing is copied back: the next forward pass of every rank reads the one
/// updated copy. What an allreduce and n replicated Adam updates cost in memory traffic shrinks to about
/// 1/n of one update. The result is deterministic (fixed summation order) and there are no replicas to
/// drift apart. The window's layout: `SharedWindowLayout`.
final class SharedMemoryExchange: GradientExchange {
    let mode = GradientExchangeMode.sharedMemory
    let parameters: FlatBuffer
    let gradients: FlatBuffer
    let adam: Adam
    let hasReplicas = false
    /// The segments are added by `PairwiseSum`, in the tree of the node's ranks.
    let sumsInTreeOrder = true
    private let memory: NodeSharedMemory
    private let gradientSources: [UnsafePointer<Float>]
    /// The parameters this rank updates: its 1/n, cut at cache-line (16-float) boundaries.
    let slice: Range<Int>

    /// Nil when the ranks do not share one node (collective: every rank gets the same answer).
    init?(parameterCount: Int, world: any Communicator, learningRate: Double, weightDecay: Double) throws {
        let floats = SharedWindowLayout.floats(parameterCount: parameterCount, ranks: world.size)
        guard let memory = try world.nodeSharedMemory(floats: floats) else { return nil }
        self.memory = memory
        let layout = SharedWindowLayout(memory: memory, parameterCount: parameterCount, learningRate: learningRate,
                                        weightDecay: weightDecay)
        (parameters, adam, gradientSources, gradients, slice) =
            (layout.parameters, layout.adam, layout.gradientSegments, layout.gradients, layout.slice)
    }

    func reduceAndUpdate() throws -> ExchangeOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        try memory.synchronize()  // every rank's gradients are written
        let gathered = DispatchTime.now().uptimeNanoseconds
        // Every rank reads the same first elements, so all agree on stopping (see `GradientExchange`).
        var first: Float = 0
        for source in gradientSources { first += source[0] }
        guard first.isFinite else { return ExchangeOutcome(finite: false, exchangeNanoseconds: gathered - start) }
        adam.update(parameters: parameters, summing: gradientSources, range: slice)
        let updated = DispatchTime.now().uptimeNanoseconds
        try memory.synchronize()  // every slice is updated; gradient segments may be overwritten again
        let end = DispatchTime.now().uptimeNanoseconds
        return ExchangeOutcome(finite: true, exchangeNanoseconds: (gathered - start) + (end - updated))
    }

    /// After every rank has written its slice from a replica (`AdaptiveExchange`).
    func synchronizeForHandOver() throws { try memory.synchronize() }

    /// This rank stops holding any page of the window; the window keeps its contents (`SharedPages`).
    func releaseMemory() { memory.releaseResidentPages() }
    func releaseSharedPages() { memory.releaseResidentPages() }

    /// Copies the parameters and both moments into `replica` (`AdaptiveExchange` switching to it), a
    /// piece at a time: first the whole window leaves this rank's resident set (its gradients too, which
    /// the replica does not need), then each piece is read back, copied and released again, so the rank
    /// holds the replica and at most one piece of the window. Not collective: the window's contents stay.
    func handOver(to replica: any GradientExchange) {
        releaseMemory()
        for (source, target) in [(parameters, replica.parameters), (adam.firstMoment, replica.adam.firstMoment),
                                 (adam.secondMoment, replica.adam.secondMoment)] {
            SharedPages.piecewise(source.baseAddress, count: source.count) {
                (target.baseAddress + $0.lowerBound).update(from: source.baseAddress + $0.lowerBound, count: $0.count)
            }
        }
    }

    func publish(_ write: () -> Void) throws {
        if memory.rank == 0 { write() }
        try memory.synchronize()
    }
}
