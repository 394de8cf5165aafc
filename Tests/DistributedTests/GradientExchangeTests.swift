@testable import Distributed
import Model
import Testing

@Suite struct GradientExchangeTests {
    /// The slices of a shared-memory step tile 0..<count exactly, inner bounds on cache lines (16 floats),
    /// sizes within a cache line of each other — also for tiny and odd counts and more ranks than lines.
    @Test(arguments: [(0, 2), (1, 2), (15, 2), (16, 2), (17, 3), (652_000, 2), (652_831, 4), (100, 8), (1_000_003, 7)])
    func slicesTileTheParameters(count: Int, ranks: Int) {
        let slices = (0..<ranks).map { SharedWindowLayout.slice(of: $0, ranks: ranks, count: count) }
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

    /// Probes start every `probeEvery` steps once 8 steps of the active exchange are known; the probe's
    /// warm-up steps are not measured; the medians compare the active exchange's recent steps with the probe's.
    @Test func probeScheduleMeasuresAndCompares() {
        var schedule = ExchangeProbeSchedule(probeEvery: 20, probeSteps: 6, warmUp: 2)
        var actions: [(Int, ExchangeProbeSchedule.Action)] = []
        for step in 1...40 {
            // Active exchange: 3 ms steps (one outlier); probe (steps 21–26): 2 ms, after two 50 ms warm-up steps.
            let seconds: Double? = switch step {
            case 1: nil
            case 15: 0.5
            case 21, 22: 0.050
            case 23...26: 0.002
            default: 0.003
            }
            let action = schedule.record(step: step, seconds: seconds)
            if action != .none { actions.append((step, action)) }
        }
        #expect(actions.count == 3)
        #expect(actions[0].0 == 20 && actions[0].1 == .startProbe)
        #expect(actions[1].0 == 26 && actions[1].1 == .finishProbe(activeMedian: 0.003, probeMedian: 0.002))
        #expect(actions[2].0 == 40 && actions[2].1 == .startProbe)  // 14 new samples since: enough
        #expect(ExchangeProbeSchedule.keepsProbed(activeMedian: 0.003, probeMedian: 0.002))
        #expect(!ExchangeProbeSchedule.keepsProbed(activeMedian: 0.003, probeMedian: 0.00295))  // within 3%: stay
        #expect(!ExchangeProbeSchedule.keepsProbed(activeMedian: 0.002, probeMedian: 0.003))
    }

    /// No probe before 8 measured steps of the active exchange, even at a probe boundary.
    @Test func probeWaitsForEnoughSamples() {
        var schedule = ExchangeProbeSchedule(probeEvery: 5, probeSteps: 3, warmUp: 1)
        let actions = (1...16).map { schedule.record(step: $0, seconds: $0 <= 3 ? nil : 0.001) }
        // Steps 5 and 10 are boundaries with 2 and 7 samples (steps 4–10); step 15 has 12.
        #expect(actions.firstIndex(of: .startProbe) == 14)
    }
}
