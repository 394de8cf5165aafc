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

    init(parameterCount: Int, world: any Communicator, learningRate: Double, weightDecay: Double) {
        self.world = world
        parameters = FlatBuffer(count: parameterCount)
        gradients = FlatBuffer(count: parameterCount)
        adam = Adam(parameterCount: parameterCount, learningRate: learningRate, weightDecay: weightDecay)
    }

    func reduceAndUpdate() throws -> ExchangeOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        try gradients.withUnsafeMutableBufferPointer { try world.allreduceSum($0) }
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
