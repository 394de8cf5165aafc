import Dispatch
import Foundation
import Model

/// `--gradient-exchange auto` on one node where the choice can never change a result — two ranks, or any
/// power of two summing in tree order: both exchanges add the same floats in the same grouping (and
/// a + b = b + a exactly), then run the same Adam kernel, so switching between them mid-run leaves every bit of the trajectory as it was and only
/// changes the speed. On a VM, which one is faster can flip within seconds (it depends on where the host
/// puts the vCPUs), so a choice made once at start goes stale.
///
/// It keeps both and runs the active one; every 400 steps it runs 6 steps on the other and keeps whichever
/// had the shorter median step (the whole step: forward, backward, exchange, update), as the ranks agree
/// through one allreduce (`ExchangeProbeSchedule`). Switching copies the parameters and Adam's moments
/// (a few ms); a lost probe costs a few slow steps, about 1% of the time at worst.
final class AdaptiveExchange: GradientExchange {
    private let exchanges: [any GradientExchange]
    private var active: Int
    private let world: any Communicator
    private var schedule: ExchangeProbeSchedule
    /// Test hook (`VAE_DIST_EXCHANGE_SWITCH_EVERY`): switch every this many steps, whatever the timings.
    private let switchEvery: Int?
    private var step = 0
    private var lastStepEnd: UInt64?

    init(_ exchanges: [any GradientExchange], active: Int, world: any Communicator,
         schedule: ExchangeProbeSchedule = ExchangeProbeSchedule()) throws {
        precondition(exchanges.count == 2 && (world.size == 2 || exchanges.allSatisfy(\.sumsInTreeOrder)))
        self.exchanges = exchanges
        self.active = active
        self.world = world
        self.schedule = schedule
        exchanges[1 - active].releaseMemory()
        let hook = ProcessInfo.processInfo.environment["VAE_DIST_EXCHANGE_SWITCH_EVERY"]
        switchEvery = try hook.map {
            guard let n = Int($0), n > 0 else { throw TrainingError("VAE_DIST_EXCHANGE_SWITCH_EVERY=\($0): not a positive integer") }
            return n
        }
    }

    var mode: GradientExchangeMode { exchanges[active].mode }
    var sumsInTreeOrder: Bool { exchanges.allSatisfy(\.sumsInTreeOrder) }
    var parameters: FlatBuffer { exchanges[active].parameters }
    var gradients: FlatBuffer { exchanges[active].gradients }
    var adam: Adam { exchanges[active].adam }
    var hasReplicas: Bool { exchanges[active].hasReplicas }
    var gradientsReady: GradientsReady? { exchanges[active].gradientsReady }
    var weightGradientSharing: (any WeightGradientSharing)? { exchanges[active].weightGradientSharing }

    func publish(_ write: () -> Void) throws { try exchanges[active].publish(write) }
    func releaseMemory() { exchanges[active].releaseMemory() }
    func releaseSharedPages() { exchanges[active].releaseSharedPages() }
    func prepareStep(globalBatch: Int, waitingForRanks: @escaping (Bool) -> Void) {
        exchanges[active].prepareStep(globalBatch: globalBatch, waitingForRanks: waitingForRanks)
    }

    func reduceAndUpdate() throws -> ExchangeOutcome {
        let outcome = try exchanges[active].reduceAndUpdate()
        guard outcome.finite else { return outcome }
        step += 1
        let now = DispatchTime.now().uptimeNanoseconds
        let seconds = lastStepEnd.map { Double(now - $0) / 1e9 }
        lastStepEnd = now
        if let switchEvery {
            if step % switchEvery == 0 { try switchTo(1 - active) }
            return outcome
        }
        switch schedule.record(step: step, seconds: seconds) {
        case .none:
            break
        case .startProbe:
            try switchTo(1 - active)
        case .finishProbe(let activeMedian, let probeMedian):
            // Every rank must decide alike: the decision uses the medians summed over ranks.
            var medians = [activeMedian, probeMedian]
            try world.allreduceSum(&medians)
            if !ExchangeProbeSchedule.keepsProbed(activeMedian: medians[0], probeMedian: medians[1]) {
                try switchTo(1 - active)  // back to the exchange the probe interrupted
            }
        }
        return outcome
    }

    /// Hands the parameters, the moments and the step count to `next`, which becomes active. Collective.
    /// Each buffer the rank no longer needs is released as soon as it is copied, so the rank never holds
    /// both exchanges' memory at once (the idle one is released, `releaseMemory`).
    private func switchTo(_ next: Int) throws {
        let from = exchanges[active], to = exchanges[next]
        if let shared = to as? SharedMemoryExchange {
            // Every rank holds the same replica: each writes its slice of the one shared copy, and needs
            // nothing else of its replica (whose gradients backward no longer writes).
            from.gradients.discardContents()
            for (source, target) in [(from.parameters, to.parameters), (from.adam.firstMoment, to.adam.firstMoment),
                                     (from.adam.secondMoment, to.adam.secondMoment)] {
                (target.baseAddress + shared.slice.lowerBound).update(from: source.baseAddress + shared.slice.lowerBound,
                                                                      count: shared.slice.count)
                source.discardContents()
            }
            try shared.synchronizeForHandOver()
        } else if let shared = from as? SharedMemoryExchange {
            // Out of shared memory: the last step ended with a synchronize, so every slice is complete.
            shared.handOver(to: to)
        } else {
            to.parameters.copy(from: from.parameters)
            to.adam.firstMoment.copy(from: from.adam.firstMoment)
            to.adam.secondMoment.copy(from: from.adam.secondMoment)
        }
        to.adam.step = from.adam.step
        active = next
        lastStepEnd = nil
        from.releaseMemory()
    }
}
