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

    init(parameterCount: Int, world: any Communicator, learningRate: Double, weightDecay: Double, treeOrder: Bool = false) {
        self.world = world
        self.treeOrder = treeOrder && world.size > 2
        sumsInTreeOrder = treeOrder || world.size <= 2
        parameters = FlatBuffer(count: parameterCount)
        gradients = FlatBuffer(count: parameterCount)
        adam = Adam(parameterCount: parameterCount, learningRate: learningRate, weightDecay: weightDecay)
    }

    func reduceAndUpdate() throws -> ExchangeOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        try gradients.withUnsafeMutableBufferPointer {
            if treeOrder { try world.allreduceSumInTreeOrder($0) } else { try world.allreduceSum($0) }
        }
        let exchanged = DispatchTime.now().uptimeNanoseconds - start
        guard gradients[0].isFinite else { return ExchangeOutcome(finite: false, exchangeNanoseconds: exchanged) }
        adam.update(parameters: parameters, gradients: gradients)
        return ExchangeOutcome(finite: true, exchangeNanoseconds: exchanged)
    }

    func publish(_ write: () -> Void) throws {
        if world.isRoot { write() }
        for buffer in [parameters, adam.firstMoment, adam.secondMoment] {
            try buffer.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 0) }
        }
    }
}
