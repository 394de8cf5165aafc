import ArgumentParser
import Distributed
import Foundation
import Model
import FileFormats
import Datasets

/// `vae-dist train`: the default subcommand.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a VAE, CVAE or the regressor baseline, data-parallel over all ranks (the default subcommand).",
        discussion: """
            Every rank trains on its slice of each global batch; every step the ranks sum their gradients through the gradient exchange (an allreduce, which may overlap backward; a node-shared window; or both across hosts: --gradient-exchange, --overlap) and apply the same Adam update. Rank 0 writes checkpoints, metrics.jsonl and sample/reconstruction images to --out.
            Examples:
              vae-dist                                              train a VAE on MNIST with defaults
              vae-dist launch -n 2 -- train --dataset fashion-mnist --epochs 10
              mpirun -np 8 vae-dist train --model cvae --arch deep --batch-size 100 --weight-decay 0.0005
              vae-dist train --resume runs/vae-fashion-mnist        continue from the newest checkpoint there
            """)

    @Option(help: "vae | cvae (middle-column condition) | cvae-label (class condition) | regressor.")
    var model: ModelChoice = .vae
    @Option(name: .customLong("arch"), help: "classic (784-400, latent 20), deep (784-1000-500-250, latent 30), or hidden widths like 512-256.")
    var architecture = "classic"
    @Option(help: "Latent size (default: the architecture's).")
    var latent: Int?
    @Option(name: .customLong("condition-tower"), help: "Widths like 1000-500-250 of ReLU layers the condition goes through before joining encoder and decoder, as the tutorial's Caffe CVAE (cvae, cvae-label, regressor only).")
    var conditionTower: String?
    @Option(help: "Epochs to train (a resumed run continues up to this many in total).")
    var epochs = 10
    @Option(name: .customLong("batch-size"), help: "GLOBAL batch size, split across ranks.")
    var batchSize = 128
    @Option(name: .customLong("lr"), help: "Adam learning rate.")
    var learningRate = 1e-3
    @Option(name: .customLong("weight-decay"), help: "L2 weight decay (the tutorial's Caffe setting is 0.0005).")
    var weightDecay = 0.0
    @Option(help: "Seed for initialization, shuffling and noise.")
    var seed: UInt64 = 1
    @Option(name: .customLong("gaussian-sigma"), help: "Use a Gaussian P(X|z) with this fixed σ instead of Bernoulli (§2.4.3).")
    var gaussianSigma: Float?
    @Flag(name: .customLong("keep-partial-batch"), help: "Train on each epoch's last, smaller batch instead of dropping it.")
    var keepPartialBatch = false

    @OptionGroup var data: DataOptions

    @Option(help: "Run directory for checkpoints, metrics and images (default: runs/<model>-<dataset>-<time>).")
    var out: String?
    @Option(name: .customLong("checkpoint-every"), help: "Checkpoint every N global steps (0: after every epoch).")
    var checkpointEvery = 0
    @Option(name: .customLong("keep-checkpoints"), help: "How many checkpoints to keep.")
    var keepCheckpoints = 3
    @Option(help: "Resume from a checkpoint file or a run directory (its newest checkpoint).")
    var resume: String?
    @Option(name: .customLong("init-from"), help: "Start from the weights of a safetensors file (`vae-dist export`, or PyTorch's state_dict) instead of a random initialization.")
    var initFrom: String?
    @Option(name: .customLong("max-steps"), help: "Stop after this many global steps in total.")
    var maxSteps: Int?
    @Flag(name: .customLong("no-eval"), help: "Skip the test-set loss after each epoch.")
    var noEval = false
    @Flag(name: .customLong("no-images"), help: "Skip the per-epoch sample and reconstruction images.")
    var noImages = false
    @Option(name: .customLong("collective-timeout"), help: "Seconds a rank may wait in a collective (or stall in a step) before the job names it and aborts; 0: never.")
    var collectiveTimeout = 300.0
    @Option(name: .customLong("check-replicas-every"), help: "Compare every rank's parameter checksum with rank 0's every N steps; 0: only at the end.")
    var checkReplicasEvery = 100
    @Option(name: .customLong("gradient-exchange"), help: "auto (shared memory when all ranks share one node; hierarchical across nodes with several ranks each), allreduce (a replica per rank, any placement), shared-memory, or hierarchical.")
    var gradientExchange: GradientExchangeMode = .auto
    @Option(name: .customLong("reduction-order"), help: "canonical (sums over examples and ranks in one fixed tree: the same parameters, bit for bit, on 1, 2, 4 … ranks up to batch/16) or native (each rank in one pass; the last bits depend on the number of ranks).")
    var reductionOrder: ReductionOrder = .canonical
    @Option(help: "Sum the gradients across ranks while backward still runs, bucket by bucket: auto (when the ranks span several hosts and use the allreduce exchange), on, or off.")
    var overlap: ExchangeOverlap.Mode = .auto
    @Option(name: .customLong("bucket-kb"), help: "Smallest gradient bucket of --overlap, in KiB.")
    var bucketKB = ExchangeOverlap.defaultBucketBytes >> 10
    @Option(name: .customLong("log-every"), help: "Write the training loss, its parts and the learning rate to the run's TensorBoard event file every N steps (0: per epoch only).")
    var logEvery = 50
    @Option(help: "Progress line while an epoch runs: auto (only when a person watches: `launch` tells, a lone process checks its terminal, plain mpirun or srun never), always, never.")
    var progress: ProgressMode = .auto

    func validate() throws {
        guard epochs >= 1 && epochs <= 1_000_000 else { throw ValidationError("--epochs must be between 1 and 1000000 (got \(epochs)).") }
        guard batchSize >= 1 && batchSize <= 1_000_000 else { throw ValidationError("--batch-size must be between 1 and 1000000 (got \(batchSize)).") }
        guard learningRate.isFinite && learningRate > 0 && learningRate < 10 else { throw ValidationError("--lr must be a positive number below 10 (got \(learningRate)).") }
        guard weightDecay.isFinite && weightDecay >= 0 else { throw ValidationError("--weight-decay must be ≥ 0 (got \(weightDecay)).") }
        guard (1...1_048_576).contains(bucketKB) else { throw ValidationError("--bucket-kb must be between 1 and 1048576 (got \(bucketKB)).") }
        if let latent, !(1...4096).contains(latent) { throw ValidationError("--latent must be between 1 and 4096 (got \(latent)).") }
        if let gaussianSigma, !(gaussianSigma.isFinite && gaussianSigma > 0) { throw ValidationError("--gaussian-sigma must be a positive number.") }
        guard checkpointEvery >= 0 else { throw ValidationError("--checkpoint-every must be ≥ 0.") }
        guard keepCheckpoints >= 1 else { throw ValidationError("--keep-checkpoints must be at least 1.") }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1.") }
        guard logEvery >= 0 else { throw ValidationError("--log-every must be ≥ 0.") }
        if resume != nil && initFrom != nil { throw ValidationError("--init-from starts a new run; --resume continues one: give one of them.") }
        guard collectiveTimeout.isFinite && collectiveTimeout >= 0 else { throw ValidationError("--collective-timeout must be ≥ 0 seconds.") }
        guard checkReplicasEvery >= 0 else { throw ValidationError("--check-replicas-every must be ≥ 0.") }
        guard Architecture.parse(architecture, latentSize: latent) != nil else {
            throw ValidationError("--arch '\(architecture)' is not classic, deep, or hidden widths like 1000-500-250.")
        }
        if let conditionTower {
            guard TrainingConfig.parseConditionTower(conditionTower) != nil else {
                throw ValidationError("--condition-tower '\(conditionTower)' is not layer widths like 1000-500-250.")
            }
            guard model != .vae else {
                throw ValidationError("--condition-tower needs a conditioned model (cvae, cvae-label, regressor), not vae.")
            }
        }
        do { _ = try trainingConfig.networkSpec() } catch { throw ValidationError("\(error)") }
    }

    var trainingConfig: TrainingConfig {
        var config = TrainingConfig()
        config.model = model
        config.architecture = architecture
        config.latent = latent
        config.conditionTower = conditionTower
        config.gaussianSigma = gaussianSigma
        config.globalBatch = batchSize
        config.learningRate = learningRate
        config.weightDecay = weightDecay
        config.seed = seed
        config.keepPartialBatch = keepPartialBatch
        config.epochs = epochs
        config.maxSteps = maxSteps
        config.checkpointEvery = checkpointEvery
        config.keepCheckpoints = keepCheckpoints
        config.logEvery = logEvery
        config.evaluateEveryEpoch = !noEval
        config.imagesEveryEpoch = !noImages
        return config
    }

    func run() throws {
        // From here on SIGINT/SIGTERM mean "stop after the current step with a checkpoint" (none before the first).
        StopSignals.install()
        runOnWorld { world in
            guard batchSize >= world.size else {
                throw AgreedFailure("--batch-size \(batchSize) is smaller than the \(world.size) ranks: every rank needs at least one example per step")
            }
            // Rank 0 fetches a missing known data set first; then every rank loads from its own disk. The test
            // split is read (and a bad one reported) now when this rank will read it, else never.
            let test: TestSplitLoading = trainingConfig.readsTestSplit(writesImages: world.isRoot) ? .upFront : .onFirstUse
            let loadedByRoot = try world.collectively { world.isRoot ? try data.load(downloadIfMissing: true, test: test) : nil }
            let dataset = try world.collectively { try loadedByRoot ?? data.load(test: test) }
            let checkpoint = try resume.map { path in try world.collectively { try CheckpointDirectory.resolve(path) } }
            // Rank 0 picks the run directory and checks it is writable before anyone trains.
            let directory = try RunDirectory.establish(out ?? checkpoint.map { RunDirectory.containing($0).path },
                default: { RunDirectory.defaultPath(model: model.rawValue, dataset: dataset.name) }, world: world)

            let trainer = try DataParallelTrainer(config: trainingConfig, dataset: dataset, world: world,
                                                  runDirectory: directory, resume: checkpoint,
                                                  initialWeights: try initFrom.map { try InitialWeights.read($0, world: world) },
                                                  gradientExchange: gradientExchange, reductionOrder: reductionOrder,
                                                  overlap: ExchangeOverlap(overlap, bucketBytes: bucketKB << 10))
            trainer.showsProgress = progress.showsProgress(environment: ProcessInfo.processInfo.environment,
                                                           standardOutputIsTerminal: isatty(STDOUT_FILENO) != 0)
            trainer.collectiveTimeout = collectiveTimeout
            trainer.replicaCheckEvery = checkReplicasEvery
            if world.isRoot {
                let tower = trainer.network.spec.conditionTower
                let towerText = tower.isEmpty ? "" : " with condition tower "
                    + LayerWidths.text([trainer.network.conditionSize] + tower)
                print("vae-dist: training \(model.rawValue) \(trainer.network.spec.architecture)\(towerText) on \(dataset.name) "
                    + "(\(dataset.train.count) train\(dataset.testSplit.loaded.map { " / \($0.count) test" } ?? "")) with \(world.size) rank\(world.size == 1 ? "" : "s"), "
                    + "global batch \(batchSize), \(trainer.sampler.stepsPerEpoch) steps per epoch → \(directory.path)")
                if world.size > 1 {
                    print("vae-dist: gradient exchange \(trainer.gradientExchange.rawValue)"
                        + (trainer.exchangeChoice.isEmpty ? "" : " (\(trainer.exchangeChoice))"))
                }
                if world.size > 1 || reductionOrder == .native { print("vae-dist: \(trainer.reduction.summary)") }
                if let checkpoint { print("vae-dist: resumed from \(checkpoint) at epoch \(trainer.epoch + 1), step \(trainer.stepInEpoch)") }
            }
            try trainer.run()
            try trainer.verifyReplicasInSync()
            if world.isRoot { print("vae-dist: done; newest checkpoint in \(directory.path)") }
        }
    }
}

extension ModelChoice: ExpressibleByArgument {}
extension GradientExchangeMode: ExpressibleByArgument {}
extension ReductionOrder: ExpressibleByArgument {}
extension ExchangeOverlap.Mode: ExpressibleByArgument {}

/// Where the data comes from: shared by train, eval and sample.
struct DataOptions: ParsableArguments {
    @Option(help: "mnist, fashion-mnist, or a directory holding the four IDX files (.gz or raw).")
    var dataset = "mnist"
    @Option(name: .customLong("data-dir"), help: "Directory holding the data set (or <dataset>/ inside it); else $VAE_DIST_DATA/<dataset>, ./data/<dataset>, /usr/share/datasets/<dataset>.")
    var dataDirectory: String?

    /// Finds and loads the data set; `test` says when its test split is read (`.onFirstUse` only for a run that
    /// never reads it).
    func load(test: TestSplitLoading = .upFront) throws -> Dataset {
        try Dataset.load(dataset, dataDirectory: dataDirectory, test: test)
    }

    /// Loads the data set; a known data set (mnist, fashion-mnist) that is nowhere to be found and no
    /// --data-dir was given is first downloaded into ./data/<name>, if `download` (rank 0 only, so
    /// ranks sharing a disk do not fetch it twice). The error, when that fails too, says both why and
    /// how else to get the data.
    func load(downloadIfMissing download: Bool, test: TestSplitLoading = .upFront) throws -> Dataset {
        do {
            return try load(test: test)
        } catch let notFound {
            guard download, dataDirectory == nil, DatasetDescription.named(dataset) != nil,
                  (try? DatasetLocator.locate(dataset, environment: DatasetLocator.processEnvironment())) == nil
            else { throw notFound }
            printError("vae-dist: \(dataset) not found locally; downloading it into ./\(DatasetLocator.localDataRoot)/\(dataset)")
            do {
                _ = try downloadDataset(named: dataset, timeout: 20)
            } catch {
                throw TrainingError("\(notFound); downloading failed too: \(error)")
            }
            return try load(test: test)
        }
    }
}
