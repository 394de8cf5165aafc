import Foundation
import FileFormats
import Model

/// The end of an epoch: loss sums over ranks, evaluation, and rank 0's summary line, metrics and images.
extension DataParallelTrainer {
    /// Sums the epoch's loss over ranks, evaluates, and (rank 0) writes the metrics line and images. The
    /// watchdog is told which parts are this rank's own work and which wait for the others.
    func finishEpoch(timer: EpochTimer, partialSteps: Int? = nil) throws -> EpochMetrics {
        lastEpochPhases = timer.phases
        watchdog?.enter(.epochCollectives, step: globalStep)
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
            let evaluator = DistributedEvaluator(network: network, parameters: parameters, world: world)
            watchdog?.enter(.epochEnd, step: globalStep)
            let split = try dataset.test  // read at start (init), so this cannot fail on some ranks only
            let local = evaluator.localSums(on: split)
            watchdog?.enter(.epochCollectives, step: globalStep)
            let test = try evaluator.mean(of: local, on: split)
            metrics.testLoss = test.total
            metrics.testReconstruction = test.reconstruction
            metrics.testKL = test.kl
        }
        try world.collectively {
            guard world.isRoot else { return }
            watchdog?.enter(.epochEnd, step: globalStep)
            defer { watchdog?.enter(.epochCollectives, step: globalStep) }
            try writeEpochOutputs(metrics)
        }
        return metrics
    }

    /// Rank 0: the summary line, the metrics line and the images of the epoch just finished.
    private func writeEpochOutputs(_ metrics: EpochMetrics) throws {
        if showsProgress { print("\r", terminator: "") }
        log(metrics.summaryLine)
        guard let runDirectory else { return }
        try runDirectory.appendMetrics(metrics)
        var values: [TensorBoardEvents.Value] = [
            .scalar(tag: "epoch/train_loss", value: Float(metrics.trainLoss)),
            .scalar(tag: "epoch/samples_per_second", value: Float(metrics.samplesPerSecond)),
            .scalar(tag: "epoch/exchange_share", value: Float(metrics.exchangeShare)),
        ]
        if let test = metrics.testLoss { values.append(.scalar(tag: "epoch/test_loss", value: Float(test))) }
        if config.imagesEveryEpoch {
            let files = try runDirectory.writeImages(network: network, parameters: parameters, test: try dataset.test, epoch: epoch + 1)
            values += [TensorBoardEvents.image(tag: "samples", pngFile: files.samples),
                       TensorBoardEvents.image(tag: "reconstructions", pngFile: files.reconstructions)].compactMap { $0 }
        }
        try tensorBoard?.write(step: globalStep, values)
    }

    /// Opens rank 0's event file (once) and records the run's flags; a resumed run first cuts the run's
    /// earlier event files back to its checkpoint's step. Collective, so a failure is one agreed error.
    func openTensorBoard() throws {
        guard let runDirectory, tensorBoard == nil else { return }
        try world.collectively {
            guard world.isRoot else { return }
            let writer = try TensorBoardWriter(directory: runDirectory, resumingAt: resumedAtStep)
            try writer.write(step: globalStep, [.text(tag: "flags", text: "vae-dist train " + config.flagsDescription)])
            tensorBoard = writer
        }
    }

    /// Every `--log-every` steps: the step's loss and its parts per example of the global batch (summed
    /// over ranks) and the learning rate, into rank 0's event file. `step` is the watchdog's step number.
    func logStep(_ terms: LossTerms, examples: Int, step: Int) throws {
        var sums = [terms.reconstruction, terms.kl, Double(examples)]
        // A collective of its own to the watchdog: a rank that never arrives is named as one, not taken
        // for this rank's own stall in the step's compute phase.
        watchdog?.enter(.stepLogAllreduce, step: step)
        try world.allreduceSum(&sums)
        watchdog?.enter(.compute, step: step)
        guard world.isRoot, let tensorBoard else { return }
        let count = max(sums[2], 1)
        try tensorBoard.write(step: globalStep, [
            .scalar(tag: "train/loss", value: Float((sums[0] + sums[1]) / count)),
            .scalar(tag: "train/reconstruction", value: Float(sums[0] / count)),
            .scalar(tag: "train/kl", value: Float(sums[1] / count)),
            .scalar(tag: "train/learning_rate", value: Float(adam.learningRate)),
        ])
    }
}
