import Dispatch
import Model

/// The exchange for several hosts with several ranks each: shared memory within a host, one allreduce
/// per slice across hosts. Each host holds one copy of the parameters and Adam's moments in a window its
/// ranks share (as `SharedMemoryExchange` does on one host), and the k ranks of a host own k slices of it.
/// A step is
///
///     backward into my gradient segment · synchronize the host ·
///     my slice: g = Σ_r gradients_r on this host (pairwise, `PairwiseSum`), written over my own segment's slice ·
///     allreduce(g) with the ranks that own the same slice on the other hosts · synchronize the host ·
///     Adam on my slice · synchronize the host
///
/// so all k ranks of a host move their 1/k of the gradient across the network at once (not one rank the
/// whole of it, nor every rank all of it), and each host applies Adam once. Hosts hold equal copies (the
/// same sums and updates), checked like replicas. Needs the same number of ranks on every host.
final class HierarchicalExchange: GradientExchange {
    let mode = GradientExchangeMode.hierarchical
    let parameters: FlatBuffer
    let gradients: FlatBuffer
    let adam: Adam
    /// One copy per host: the copies could drift apart, so the replica check applies.
    let hasReplicas = true
    private let memory: NodeSharedMemory
    private let acrossHosts: any Communicator
    private let hostGradients: [UnsafePointer<Float>]
    /// The parameters this rank reduces and updates: its 1/k of them, cut at cache-line boundaries.
    let slice: Range<Int>
    /// Sum across hosts in the pairwise tree of hosts (`allreduceSumInTreeOrder`), not in MPI's order.
    private let treeOrder: Bool
    /// True when asked for and every host holds a block of consecutive world ranks (mpirun's default
    /// placement; `--map-by node` deals them round-robin, and the host sums no longer form the tree).
    let sumsInTreeOrder: Bool

    /// Nil (on every rank) when the ranks are not spread evenly over several hosts, more than one on each.
    init?(parameterCount: Int, world: any Communicator, learningRate: Double, weightDecay: Double,
          treeOrder: Bool = false) throws {
        guard let (memory, acrossHosts) = try world.hostSharedMemory(floats: {
            SharedWindowLayout.floats(parameterCount: parameterCount, ranks: $0)
        }) else { return nil }
        self.memory = memory
        self.acrossHosts = acrossHosts
        var scattered = [world.rank == acrossHosts.rank * memory.size + memory.rank ? 0.0 : 1.0]
        try world.allreduceSum(&scattered)
        sumsInTreeOrder = scattered[0] == 0 && (treeOrder || acrossHosts.size <= 2)
        self.treeOrder = treeOrder && acrossHosts.size > 2
        let layout = SharedWindowLayout(memory: memory, parameterCount: parameterCount, learningRate: learningRate,
                                        weightDecay: weightDecay)
        (parameters, adam, hostGradients, gradients, slice) =
            (layout.parameters, layout.adam, layout.gradientSegments, layout.gradients, layout.slice)
    }

    func reduceAndUpdate() throws -> ExchangeOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        try memory.synchronize()  // every rank of this host has written its gradients
        // Only this rank reads or writes its slice of any segment until the next synchronize.
        let own = UnsafeMutablePointer(mutating: hostGradients[memory.rank]) + slice.lowerBound
        PairwiseSum.sum(hostGradients.map { $0 + slice.lowerBound }, into: own, count: slice.count)
        let sums = UnsafeMutableBufferPointer(start: own, count: slice.count)
        if treeOrder { try acrossHosts.allreduceSumInTreeOrder(sums) } else { try acrossHosts.allreduceSum(sums) }
        try memory.synchronize()  // every slice holds the sum over all hosts
        let gathered = DispatchTime.now().uptimeNanoseconds
        // Element 0 lies in rank 0's slice; every rank of every host reads the same summed value.
        guard hostGradients[0][0].isFinite else {
            return ExchangeOutcome(finite: false, exchangeNanoseconds: gathered - start)
        }
        adam.update(parameters: parameters, summing: [UnsafePointer(own - slice.lowerBound)], range: slice)
        let updated = DispatchTime.now().uptimeNanoseconds
        try memory.synchronize()  // every slice is updated; gradient segments may be overwritten again
        let end = DispatchTime.now().uptimeNanoseconds
        return ExchangeOutcome(finite: true, exchangeNanoseconds: (gathered - start) + (end - updated))
    }

    /// The host's window keeps its contents (`SharedPages`).
    func releaseSharedPages() { memory.releaseResidentPages() }

    func publish(_ write: () -> Void) throws {
        if memory.rank == 0 && acrossHosts.rank == 0 { write() }  // world rank 0
        try memory.synchronize()
        // Each rank carries its slice of the parameters and moments from world rank 0's host to its peers.
        for buffer in [parameters, adam.firstMoment, adam.secondMoment] {
            try acrossHosts.broadcast(UnsafeMutableBufferPointer(start: buffer.baseAddress + slice.lowerBound,
                                                                 count: slice.count), root: 0)
        }
        try memory.synchronize()
    }
}
