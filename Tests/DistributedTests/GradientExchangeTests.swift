@testable import Distributed
import Model
import Testing

@Suite struct GradientExchangeTests {
    /// The slices of a shared-memory step tile 0..<count exactly, inner bounds on cache lines (16 floats),
    /// sizes within a cache line of each other — also for tiny and odd counts and more ranks than lines.
    @Test(arguments: [(0, 2), (1, 2), (15, 2), (16, 2), (17, 3), (652_000, 2), (652_831, 4), (100, 8), (1_000_003, 7)])
    func slicesTileTheParameters(count: Int, ranks: Int) {
        let slices = (0..<ranks).map { SharedMemoryExchange.slice(of: $0, ranks: ranks, count: count) }
        #expect(slices.first?.lowerBound == 0 && slices.last?.upperBound == count)
        for (a, b) in zip(slices, slices.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        for slice in slices.dropFirst() where slice.lowerBound < count { #expect(slice.lowerBound % 16 == 0) }
        if count >= 16 * ranks {
            let sizes = slices.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 16 + 16)
        }
    }

    /// One rank: every mode is the replicated allreduce exchange (nothing to share), and a step applies Adam
    /// to the summed (= own) gradient.
    @Test(arguments: GradientExchangeMode.allCases)
    func oneRankUsesTheAllreduceExchange(mode: GradientExchangeMode) throws {
        let world = SingleProcessCommunicator()
        let (exchange, _) = try makeGradientExchange(mode, parameterCount: 5, world: world, learningRate: 0.1, weightDecay: 0)
        #expect(exchange.mode == .allreduce && exchange.hasReplicas)
        try exchange.publish { exchange.parameters.assign([1, 1, 1, 1, 1]) }
        exchange.gradients.assign([0.5, 0.5, 0.5, 0.5, 0.5])
        let outcome = try exchange.reduceAndUpdate()
        #expect(outcome.finite && abs(exchange.parameters[4] - 0.9) < 1e-6 && exchange.adam.step == 1)
        exchange.gradients[0] = .nan
        #expect(try !exchange.reduceAndUpdate().finite)
        #expect(exchange.adam.step == 1 && abs(exchange.parameters[4] - 0.9) < 1e-6)
    }
}
