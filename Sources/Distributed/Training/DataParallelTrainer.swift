import Foundation
import Model
import Datasets

/// The data-parallel training loop (ARCHITECTURE.md, "Data flow"): every rank trains on its slice of each global
/// batch, the ranks sum their gradients and apply one identical Adam update per step — by an allreduce
/// and a replica per rank, or through one node-shared parameter copy (`GradientExchange`). Rank 0 writes
/// checkpoints, metrics and images.
public final class DataParallelTrainer {
    public let config: TrainingConfig
    /// `config`'s epochs and step limit; may be extended between calls to `run()`.
    private var schedule: (epochs: Int, maxSteps: Int?)
    public let dataset: Dataset
    public let world: any Communicator
    public let network: any Network
    public var parameters: FlatBuffer { exchange.parameters }
    /// Where this rank's backward writes its gradients. Under the shared-memory exchange the large weight
    /// gradients are split across the node's ranks (`SplitWeightGradients`): there this buffer holds the
    /// summed gradient of this rank's band of rows, and stale values elsewhere.
    public var gradients: FlatBuffer { exchange.gradients }
    public var adam: Adam { exchange.adam }
    /// The gradient exchange in effect (`.allreduce`, `.sharedMemory` or `.hierarchical`).
    public var gradientExchange: GradientExchangeMode { exchange.mode }
    let exchange: any GradientExchange
    /// Why this exchange: what `--gradient-exchange auto` measured, or that it was asked for.
    public let exchangeChoice: String
    /// The order of the sums over examples and ranks (`--reduction-order`), as honoured on this world.
    public let reduction: ReductionPlan
    public let sampler: ShardSampler
    /// Where rank 0 writes checkpoints, `metrics.jsonl` and images; nil writes nothing.
    public let runDirectory: RunDirectory?
    public let dataFingerprint: UInt64

    /// Position in the trajectory.
    public internal(set) var epoch = 0
    public internal(set) var stepInEpoch = 0
    public internal(set) var globalStep = 0
    /// Where this rank's steps of the last finished (or stopped) epoch spent their time. GEMM phases are
    /// timed only while `GEMMProfile.isEnabled` (`bench train --profile`).
    public internal(set) var lastEpochPhases = StepPhases()
    /// Rank 0's TensorBoard event file, opened by the first `run()` of a run with a directory.
    var tensorBoard: TensorBoardWriter?
    /// The global step this trainer resumed at (nil for a fresh run).
    var resumedAtStep: Int?
    var epochTotals = EpochTotals()

    /// Per-epoch lines (rank 0 only).
    public var log: (String) -> Void = { print($0) }
    /// Show a once-a-second progress line (rank 0 only); the caller decides whether a person watches.
    public var showsProgress = false
    /// Seconds one phase of a step (a collective, the forward/backward, a checkpoint) may last before the
    /// watchdog names the rank and aborts the job; 0 disables the watchdog (`--collective-timeout`).
    public var collectiveTimeout: Double = 300
    /// Compare every replica's parameter checksum with rank 0's every this many global steps; 0 disables
    /// it (`--check-replicas-every`). One checksum pass and one 8-byte allgather: negligible.
    public var replicaCheckEvery = 100
    /// Stop on SIGINT/SIGTERM after the step in progress, with a final checkpoint (`run()` installs handlers).
    public var stopsOnSignals = true
    /// A test-only fault from `VAE_DIST_FAULT` (see `FaultInjection`); nil in every real run.
    public var fault: FaultInjection?

    private let pixelBuffer: FlatBuffer
    private var indexBuffer: [Int]
    private var labelBuffer: [UInt8]

    /// Builds the replica on every rank, checks that all ranks agree on configuration and data, and
    /// starts from rank 0's parameters — freshly initialized, or `resume`'s checkpoint (read by rank 0,
    /// broadcast to all).
    public init(config: TrainingConfig, dataset: Dataset, world: any Communicator,
                runDirectory: RunDirectory?, resume: String? = nil, initialWeights: InitialWeights? = nil,
                gradientExchange: GradientExchangeMode = .auto, reductionOrder: ReductionOrder = .canonical,
                overlap: ExchangeOverlap = ExchangeOverlap()) throws {
        self.config = config
        self.schedule = (config.epochs, config.maxSteps)
        self.dataset = dataset
        self.world = world
        self.runDirectory = runDirectory
        let imageWidth = dataset.train.images.cols
        let spec = try config.networkSpec(inputSize: dataset.train.featureCount, imageWidth: imageWidth)
        network = makeNetwork(spec, seed: config.seed)
        sampler = ShardSampler(exampleCount: dataset.train.count, globalBatch: config.globalBatch,
                               seed: config.seed, keepPartialBatch: config.keepPartialBatch)
        dataFingerprint = DataParallelTrainer.fingerprint(dataset.train)
        let localCapacity = (config.globalBatch + world.size - 1) / world.size
        pixelBuffer = FlatBuffer(count: localCapacity * dataset.train.featureCount)
        indexBuffer = [Int](repeating: 0, count: localCapacity)
        labelBuffer = [UInt8](repeating: 0, count: localCapacity)
        fault = try FaultInjection.fromEnvironment()

        guard sampler.stepsPerEpoch > 0 else {
            throw TrainingError("--batch-size \(config.globalBatch) is larger than the \(dataset.train.count) training examples")
        }
        try Self.requireAgreement(config.trajectoryHash(dataFingerprint: dataFingerprint),
                                  what: "configuration or training data", world: world)
        try Self.requireAgreement(fnv1a(Array(gradientExchange.rawValue.utf8)), what: "--gradient-exchange", world: world)
        try Self.requireAgreement(UInt64(max(config.logEvery, 0)), what: "--log-every", world: world)
        // Every rank evaluates its share of the test split at each epoch end, with an allreduce: all or none.
        try Self.requireAgreement(config.evaluateEveryEpoch ? 1 : 0, what: "--no-eval", world: world)
        try Self.requireAgreement(fnv1a(Array(reductionOrder.rawValue.utf8)), what: "--reduction-order", world: world)
        try Self.requireAgreement(fnv1a(Array("\(overlap.mode.rawValue) \(overlap.bucketBytes)".utf8)),
                                  what: "--overlap and --bucket-kb", world: world)
        // Every rank that will read the test split (evaluation; rank 0's images) reads it now, so a bad test file
        // stops the run before its first step as one agreed error; a rank that never reads it (bench train,
        // --no-eval --no-images) never loads it. A data set loaded with `.upFront` has it already.
        let readsTest = config.readsTestSplit(writesImages: world.isRoot && runDirectory != nil)
        try world.collectively { if readsTest { _ = try dataset.test } }
        var restored: TrainingCheckpoint?
        if let resume {
            restored = try Self.readCheckpoint(resume, config: config, network: network,
                                               dataFingerprint: dataFingerprint, world: world)
        }
        let resumedMode = restored?.metadata.gradientExchange.flatMap(GradientExchangeMode.init(rawValue:))
        let planned = ReductionPlan(reductionOrder, globalBatch: config.globalBatch, worldSize: world.size)
        (exchange, exchangeChoice) = try makeGradientExchange(
            gradientExchange, resumed: resumedMode, parameterCount: network.layout.count, world: world,
            learningRate: config.learningRate, weightDecay: config.weightDecay, treeOrder: planned.isCanonical,
            overlap: overlap, tensors: GradientBuckets.tensors(of: network.layout),
            helpFloats: planned.isCanonical ? WeightGradientHelp.areaFloats(network.layout, globalBatch: config.globalBatch,
                                                                           ranks: world.size) : 0,
            splitFloats: SplitWeightGradients.areaFloats(network.layout, globalBatch: config.globalBatch, ranks: world.size))
        reduction = planned.honoured(byTreeOrderExchange: exchange.sumsInTreeOrder)
        if let restored { resumeTrajectory(at: restored.metadata) }
        // Weights from a safetensors file: checked against this network by every rank, so a mismatch is one
        // agreed error; rank 0 publishes them.
        let imported = try initialWeights.map { weights in
            try world.collectively { [network] in
                let buffer = FlatBuffer(count: network.layout.count)
                try PyTorchWeights.assign(weights.contents, to: network, parameters: buffer, path: weights.path)
                return buffer
            }
        }
        // Rank 0's parameters are the truth: identical init on every rank is likely, but not assumed.
        try exchange.publish { [network, exchange] in
            if let imported {
                exchange.parameters.copy(from: imported)
            } else if let restored {
                exchange.parameters.assign(restored.parameters)
                exchange.adam.firstMoment.assign(restored.adamFirstMoment)
                exchange.adam.secondMoment.assign(restored.adamSecondMoment)
            } else {
                network.initializeParameters(exchange.parameters)
            }
        }
    }

    // MARK: Training

    /// Trains until `config.epochs` epochs (or `config.maxSteps` steps) are done. Returns the last epoch's metrics.
    @discardableResult
    public func run() throws -> EpochMetrics? {
        if stopsOnSignals { StopSignals.install() }
        try openTensorBoard()
        let watchdog = try startWatchdog()
        self.watchdog = watchdog
        defer {
            watchdog.stop()
            self.watchdog = nil
        }
        var last: EpochMetrics?
        var timer = EpochTimer()
        while epoch < schedule.epochs && !reachedMaxSteps {
            timer = EpochTimer()
            let permutation = sampler.permutation(epoch: epoch)
            while stepInEpoch < sampler.stepsPerEpoch && !reachedMaxSteps {
                try step(permutation: permutation, timer: &timer)
                if replicaCheckEvery > 0 && globalStep % replicaCheckEvery == 0 {
                    watchdog.enter(.replicaCheck, step: globalStep)
                    try verifyReplicasInSync()
                }
                if stopsOnSignals { try stopIfSignalled(watchdog) }
                if config.checkpointEvery > 0 && globalStep % config.checkpointEvery == 0 {
                    try saveCheckpoint()
                }
                if showsProgress && world.isRoot && timer.shouldShowProgress() {
                    print("\repoch \(epoch + 1)/\(schedule.epochs) step \(stepInEpoch)/\(sampler.stepsPerEpoch) "
                        + "loss \(String(format: "%.2f", epochTotals.lastLoss))   ", terminator: "")
                    fflush(nil)
                }
            }
            if stepInEpoch < sampler.stepsPerEpoch { break }  // stopped by maxSteps mid-epoch
            let metrics = try finishEpoch(timer: timer)
            last = metrics
            epoch += 1
            stepInEpoch = 0
            epochTotals = EpochTotals()
            if config.checkpointEvery == 0 || epoch == schedule.epochs { try saveCheckpoint() }
        }
        if reachedMaxSteps && stepInEpoch > 0 && timer.steps > 0 {
            // Stopped inside an epoch: its figures so far, so a short run still reports its loss.
            last = try finishEpoch(timer: timer, partialSteps: stepInEpoch)
        }
        if reachedMaxSteps { try saveCheckpoint() }
        return last
    }

    /// Set while `run()` runs; `step`, checkpoints and epoch ends report their phases to it.
    private(set) var watchdog: CollectiveWatchdog?

    /// Lets `run()` continue for more epochs (benchmarks time one epoch per call).
    public func extendSchedule(epochs: Int) {
        schedule.epochs = max(schedule.epochs, epochs)
    }

    private var reachedMaxSteps: Bool { schedule.maxSteps.map { globalStep >= $0 } ?? false }

    /// One global step: local forward/backward, the gradient exchange (the sum over ranks of gradients
    /// normalized by the global batch, so the exact mean also for uneven shards) and the same Adam update
    /// everywhere (replicated, or once per slice of a node-shared window).
    private func step(permutation: [Int], timer: inout EpochTimer) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let stepNumber = globalStep + 1
        watchdog?.enter(.compute, step: stepNumber)
        if let fault { try injectBeforeStep(fault, step: stepNumber) }
        let local = sampler.localIndices(step: stepInEpoch, rank: world.rank, size: world.size, permutation: permutation)
        let count = local.count
        for (slot, index) in local.enumerated() {
            indexBuffer[slot] = index
            labelBuffer[slot] = dataset.train.labels[index]
        }
        if count > 0 {
            indexBuffer.withUnsafeBufferPointer { indices in
                dataset.train.fillBatch(indices: UnsafeBufferPointer(rebasing: indices[0..<count]), into: pixelBuffer.baseAddress)
            }
        }
        let batchReady = DispatchTime.now().uptimeNanoseconds
        // Backward writes every gradient element (no zeroing pass); a rank with no example this step
        // contributes zeros.
        if count == 0 { gradients.zero() }
        let zeroed = DispatchTime.now().uptimeNanoseconds
        let gemmBefore = GEMMProfile.counters
        var terms = LossTerms()
        let globalBatch = sampler.globalBatchSize(step: stepInEpoch)
        exchange.prepareStep(globalBatch: globalBatch) { [watchdog = self.watchdog] waiting in
            watchdog?.enter(waiting ? .gradientExchange : .compute, step: stepNumber)
        }
        if count > 0 {
            indexBuffer.withUnsafeBufferPointer { indices in
                labelBuffer.withUnsafeBufferPointer { labels in
                    let leaves = reduction.leaves(batch: globalBatch, rank: world.rank, size: world.size, count: count)
                    let batch = MiniBatch(count: count, pixels: pixelBuffer.baseAddress, labels: labels.baseAddress,
                                          exampleIndices: indices.baseAddress!, epoch: epoch, leaves: leaves,
                                          gradientsReady: exchange.gradientsReady,
                                          weightGradientSharing: exchange.weightGradientSharing)
                    let scale = 1 / Float(globalBatch)
                    terms = network.forwardBackward(batch, parameters: parameters, gradients: gradients, gradientScale: scale)
                }
            }
        }
        let computed = DispatchTime.now().uptimeNanoseconds
        // A non-finite loss on any rank poisons the summed gradient's first element, so every rank sees it
        // after the exchange and all stop together instead of some waiting in the next collective.
        let injectedNaN = fault?.applies(.nan, rank: world.rank, step: stepNumber) ?? false
        if !terms.total.isFinite || injectedNaN { gradients[0] = .nan }
        watchdog?.enter(.gradientExchange, step: stepNumber)
        let outcome = try exchange.reduceAndUpdate()
        let exchanged = DispatchTime.now().uptimeNanoseconds
        watchdog?.enter(.compute, step: stepNumber)
        guard outcome.finite else {
            // Every rank sees the poisoned sum, so all throw the same agreed failure; rank 0 names the checkpoint.
            let kept = world.isRoot ? (try? runDirectory?.checkpoints.newest()).flatMap { $0 } : nil
            throw AgreedFailure("the loss or its gradient became NaN/Inf at epoch \(epoch + 1), step \(stepInEpoch + 1) "
                + "(global step \(stepNumber)); stopping without saving. Try a lower --lr."
                + (kept.map { " The last good checkpoint is kept: \($0)" } ?? ""))
        }
        if exchange.hasReplicas && fault?.applies(.drift, rank: world.rank, step: stepNumber) ?? false { parameters[0] += 1e-3 }
        epochTotals.add(terms, examples: count)
        let stepTerms = terms
        stepInEpoch += 1
        globalStep += 1
        if runDirectory != nil && config.logEvery > 0 && globalStep % config.logEvery == 0 {
            try logStep(stepTerms, examples: count, step: stepNumber)
        }
        let end = DispatchTime.now().uptimeNanoseconds
        let gemm = GEMMProfile.counters
        let forwardGEMM = gemm.forwardNanoseconds - gemmBefore.forwardNanoseconds
        let backwardGEMM = gemm.backwardNanoseconds - gemmBefore.backwardNanoseconds
        timer.phases.batchNanoseconds += batchReady - start
        timer.phases.zeroNanoseconds += zeroed - batchReady
        timer.phases.forwardGEMMNanoseconds += forwardGEMM
        timer.phases.backwardGEMMNanoseconds += backwardGEMM
        // Backward GEMMs include the blocks computed for slower ranks while waiting in the exchange.
        // Waits for other ranks inside backward (`SplitWeightGradients`) count as exchange, not elementwise.
        let ownGEMM = forwardGEMM + backwardGEMM - min(backwardGEMM, outcome.assistNanoseconds)
            + outcome.backwardWaitNanoseconds
        timer.phases.elementwiseNanoseconds += (computed - zeroed) - min(computed - zeroed, ownGEMM)
        timer.phases.assistNanoseconds += outcome.assistNanoseconds
        timer.phases.exchangeNanoseconds += outcome.exchangeNanoseconds
        let exchangeAndAssist = outcome.exchangeNanoseconds - outcome.backwardWaitNanoseconds + outcome.assistNanoseconds
        timer.phases.optimizerNanoseconds += (exchanged - computed) - min(exchanged - computed, exchangeAndAssist)
        timer.phases.stepNanoseconds += end - start
        timer.phases.gemmFlops += gemm.flops - gemmBefore.flops
        timer.phases.steps += 1
    }
}
