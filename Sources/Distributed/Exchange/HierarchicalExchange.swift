import Dispatch
import Model

/// The exchange for several hosts with several ranks each: shared memory within a host, one allreduce
/// per slice across hosts. Each host holds one copy of the parameters and Adam's moments in a window its
/// ranks share (as `SharedMemoryExchange` does on one host), and the k ranks of a host own k slices of it.
/// A step is
///
///     backward into my gradient segment · synchronize the host ·
///     my slice: g = Σ_r gradients_r on this host (in rank order), written over my own segment's slice ·
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

    /// Nil (on every rank) when the ranks are not spread evenly over several hosts, more than one on each.
    init?(parameterCount: Int, world: any Communicator, learningRate: Double, weightDecay: Double) throws {
        guard let (memory, acrossHosts) = try world.hostSharedMemory(floats: {
            SharedWindowLayout.floats(parameterCount: parameterCount, ranks: $0)
        }) else { return nil }
        self.memory = memory
        self.acrossHosts = acrossHosts
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
        Self.sumInRankOrder(hostGradients.map { $0 + slice.lowerBound }, into: own, count: slice.count)
        try acrossHosts.allreduceSum(UnsafeMutableBufferPointer(start: own, count: slice.count))
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

    /// `result[i] = Σ_r sources[r][i]` in rank order — the order `SharedMemoryExchange` sums in, so one
    /// host's sum matches it bit for bit. `result` may be one of the sources: each element is read first.
    static func sumInRankOrder(_ sources: [UnsafePointer<Float>], into result: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            var total = UnsafeRawPointer(sources[0] + i).loadUnaligned(as: SIMD8<Float>.self)
            for source in sources.dropFirst() { total += UnsafeRawPointer(source + i).loadUnaligned(as: SIMD8<Float>.self) }
            UnsafeMutableRawPointer(result + i).storeBytes(of: total, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            var total = sources[0][i]
            for source in sources.dropFirst() { total += source[i] }
            result[i] = total
            i += 1
        }
    }

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
