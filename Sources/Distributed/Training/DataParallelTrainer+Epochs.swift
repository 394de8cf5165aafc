import Foundation
import Model

/// The end of an epoch: loss sums over ranks, evaluation, and rank 0's summary line, metrics and images.
extension DataParallelTrainer {
    /// Sums the epoch's loss over ranks, evaluates, and (rank 0) writes the metrics line and images.
    func finishEpoch(timer: EpochTimer, partialSteps: Int? = nil) throws -> EpochMetrics {
        lastEpochPhases = timer.phases
        var sums = [epochTotals.reconstruction, epochTotals.kl, Double(epochTotals.examples),
                    Double(timer.phases.stepNanoseconds), Double(timer.phases.exchangeNanoseconds)]
        try world.allreduceSum(&sums)
        let examples = max(sums[2], 1)
        let seconds = Double(timer.phases.stepNanoseconds) / 1e9
        var metrics = EpochMetrics(
            epoch: epoch + 1, globalStep: globalStep, ranks: world.size,
            trainLoss: (sums[0] + sums[1]) / examples, trainReconstruction: sums[0] / examples, trainKL: sums[1] / examples,
            testLoss: nil, testReconstruction: nil, testKL: nil,
            epochSeconds: seconds, samplesPerSecond: Double(timer.steps * config.globalBatch) / max(seconds, 1e-9),
            exchangeShare: sums[3] > 0 ? sums[4] / sums[3] : 0, partialSteps: partialSteps)
        if config.evaluateEveryEpoch {
            let test = try DistributedEvaluator(network: network, parameters: parameters, world: world)
                .meanLoss(on: dataset.test)
            metrics.testLoss = test.total
            metrics.testReconstruction = test.reconstruction
            metrics.testKL = test.kl
        }
        try world.collectively { if world.isRoot { try writeEpochOutputs(metrics) } }
        return metrics
    }

    /// Rank 0: the summary line, the metrics line and the images of the epoch just finished.
    private func writeEpochOutputs(_ metrics: EpochMetrics) throws {
        if showsProgress { print("\r", terminator: "") }
        log(metrics.summaryLine)
        guard let runDirectory else { return }
        try runDirectory.appendMetrics(metrics)
        if config.imagesEveryEpoch {
            try runDirectory.writeImages(network: network, parameters: parameters, test: dataset.test, epoch: epoch + 1)
        }
    }
}
