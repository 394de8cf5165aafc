import Foundation
import Model
import Datasets

/// Saving, reading and resuming: rank 0 writes through the `RunDirectory`; a resumed run is read by rank 0,
/// broadcast, and checked against this run by every rank.
extension DataParallelTrainer {
    /// Called on every rank: the epoch's running loss sums are reduced so the checkpoint holds global
    /// figures, then rank 0 writes the file atomically (the other ranks hold identical state).
    /// The watchdog sees rank 0's write as this rank's own work and the rest as waiting for the others, so a
    /// rank stopped during a checkpoint is reported as missing, not rank 0 as slow.
    public func saveCheckpoint() throws {
        guard runDirectory != nil else { return }
        watchdog?.enter(.checkpointCollectives, step: globalStep)
        var sums = [epochTotals.reconstruction, epochTotals.kl, Double(epochTotals.examples)]
        try world.allreduceSum(&sums)
        // Only rank 0 writes; every rank learns whether it worked, so a full disk is one clear error everywhere.
        try world.collectively {
            guard world.isRoot else { return }
            watchdog?.enter(.checkpoint, step: globalStep)
            defer { watchdog?.enter(.checkpointCollectives, step: globalStep) }
            try writeCheckpoint(sums)
        }
    }

    private func writeCheckpoint(_ sums: [Double]) throws {
        guard let runDirectory else { return }
        if let fault, fault.applies(.slowcheckpoint, rank: world.rank, step: globalStep) {
            Thread.sleep(forTimeInterval: fault.seconds)
        }
        let metadata = TrainingCheckpointMetadata(
            config: config, dataset: dataset.name, dataFingerprint: dataFingerprint, epoch: epoch,
            stepInEpoch: stepInEpoch, globalStep: globalStep, adamStep: adam.step,
            epochReconstruction: sums[0], epochKL: sums[1], epochExamples: Int(sums[2]),
            parameterCount: parameters.count, parameterChecksum: parameters.checksum(),
            imageRows: dataset.train.images.rows, imageCols: dataset.train.images.cols,
            gradientExchange: exchange.mode.rawValue, reductionOrder: reduction.recorded)
        // Writing reads all of the moments, of which a shared window holds most for the other ranks:
        // read them in place of, not on top of, rank 0's own pages, and give them back afterwards.
        exchange.releaseSharedPages()
        defer { exchange.releaseSharedPages() }
        try runDirectory.saveCheckpoint(metadata: metadata, parameters: parameters, adam: adam, keep: config.keepCheckpoints)
    }

    /// Rank 0 reads `path` and broadcasts it (`RunDirectory.readCheckpoint`); every rank checks it against
    /// this run. The caller publishes its parameters and moments (`GradientExchange.publish`) and takes over
    /// its position (`resumeTrajectory`).
    static func readCheckpoint(_ path: String, config: TrainingConfig, network: any Network,
                               dataFingerprint: UInt64, world: any Communicator) throws -> TrainingCheckpoint {
        let (path, checkpoint) = try RunDirectory.readCheckpoint(path, world: world)
        let saved = checkpoint.metadata
        guard saved.config.trajectoryDescription == config.trajectoryDescription else {
            throw AgreedFailure("\(path): was trained with \(saved.config.flagsDescription); "
                + "this run asks for \(config.flagsDescription). Resume with the same flags.")
        }
        guard saved.dataFingerprint == dataFingerprint else {
            throw AgreedFailure("\(path): was trained on other data (\(saved.dataset)); resume with the same data set")
        }
        try world.collectively { try checkpoint.requireCompatible(with: network.spec, parameterCount: network.layout.count) }
        return checkpoint
    }

    func resumeTrajectory(at saved: TrainingCheckpointMetadata) {
        resumedAtStep = saved.globalStep
        adam.step = saved.adamStep
        epoch = saved.epoch
        stepInEpoch = saved.stepInEpoch
        globalStep = saved.globalStep
        // The restored running sums are global; keep them on rank 0 only so the end-of-epoch allreduce counts them once.
        if world.isRoot {
            epochTotals = EpochTotals(reconstruction: saved.epochReconstruction, kl: saved.epochKL, examples: saved.epochExamples)
        }
    }

    /// FNV-1a over the training images and labels: ranks with other data disagree on it.
    static func fingerprint(_ split: DataSplit) -> UInt64 {
        var hash = fnv1a(split.labels)
        // The pixels as 32-bit words through the fast checksum, then the 0–3 bytes that do not fill a word.
        let pixels = split.images.pixels
        let words = pixels.count / 4
        hash = pixels.withUnsafeBufferPointer { FlatBuffer.checksum(
            UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: Float.self),
                                count: words)) } ^ hash &* 31
        hash = fnv1a(pixels[(words * 4)...], seed: hash)
        return hash ^ UInt64(split.count) &* 0x9e37_79b9_7f4a_7c15
    }
}
