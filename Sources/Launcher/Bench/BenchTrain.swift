import ArgumentParser
import Distributed
import Foundation
import Model
import FileFormats

/// `vae-dist bench train`: training speed on real data, the way a user trains — under launch/mpirun.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Seconds per epoch, samples/s, gradient-exchange share and peak memory per rank (run under launch/mpirun).",
        discussion: """
            Trains for --epochs epochs with nothing written (no evaluation, images or checkpoints) and reports
            every epoch with the gradient exchange in effect; the first epoch includes warm-up.
            scripts/bench/train-vs-pytorch compares np=1, np=2 and PyTorch in one sitting.
            Example: vae-dist launch -n 2 -- bench train --arch deep --epochs 3 --gradient-exchange allreduce
            """)

    @Option(name: .customLong("arch"), help: "classic, deep, or hidden widths.")
    var architecture = "classic"
    @Option(help: "vae | cvae | cvae-label | regressor.")
    var model: ModelChoice = .vae
    @Option(help: "Epochs to time.")
    var epochs = 3
    @Option(name: .customLong("batch-size"), help: "Global batch size.")
    var batchSize = 128
    @Flag(help: "One JSON object per epoch.")
    var json = false
    @Flag(help: "Also print where each rank's steps spend their time: batch, forward and backward GEMMs, elementwise, exchange, optimizer.")
    var profile = false
    @Option(name: .customLong("gradient-exchange"), help: "auto, allreduce, shared-memory or hierarchical (see train --help).")
    var gradientExchange: GradientExchangeMode = .auto
    @Option(name: .customLong("reduction-order"), help: "canonical or native (see train --help).")
    var reductionOrder: ReductionOrder = .canonical
    @Option(help: "auto, on or off (see train --help).")
    var overlap: ExchangeOverlap.Mode = .auto
    @Option(name: .customLong("bucket-kb"), help: "Smallest gradient bucket of --overlap, in KiB.")
    var bucketKB = ExchangeOverlap.defaultBucketBytes >> 10
    @OptionGroup var data: DataOptions

    func validate() throws {
        guard (1...1000).contains(epochs) else { throw ValidationError("--epochs must be 1...1000.") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1.") }
        guard (1...1_048_576).contains(bucketKB) else { throw ValidationError("--bucket-kb must be 1...1048576.") }
        guard Architecture.parse(architecture) != nil else { throw ValidationError("--arch '\(architecture)' is not classic, deep, or widths.") }
    }

    func run() throws {
        runOnWorld { world in
            // Nothing here evaluates or draws images: the test split is never read, so never loaded.
            let dataset = try world.collectively { try data.load(test: .onFirstUse) }
            var config = TrainingConfig()
            config.model = model
            config.architecture = architecture
            config.globalBatch = batchSize
            config.epochs = 1
            config.evaluateEveryEpoch = false
            config.imagesEveryEpoch = false
            let trainer = try DataParallelTrainer(config: config, dataset: dataset, world: world, runDirectory: nil,
                                                  gradientExchange: gradientExchange, reductionOrder: reductionOrder,
                                                  overlap: ExchangeOverlap(overlap, bucketBytes: bucketKB << 10))
            trainer.log = { _ in }
            if world.isRoot && !json {
                print("train \(model.rawValue) \(architecture) np=\(world.size): gradient exchange \(trainer.gradientExchange.rawValue)"
                    + (trainer.exchangeChoice.isEmpty ? "" : " (\(trainer.exchangeChoice))") + "; \(trainer.reduction.summary)")
            }
            trainer.showsProgress = false
            GEMMProfile.isEnabled = profile
            // The best of many short rounds (≈ 10 ms in all): right after start-up a round can share its core
            // with mpirun's or Open MPI's own start-up work, and the percentages would then exceed 100.
            let peak = profile ? GEMMDispatch.measureFMAPeak(of: GEMMDispatch.active.path, rounds: 50) : 0
            var seconds: [Double] = []
            for epoch in 1...epochs {
                trainer.extendSchedule(epochs: epoch)
                GEMMProfile.reset()
                guard let metrics = try trainer.run() else { continue }
                seconds.append(metrics.epochSeconds)
                if profile {
                    // Each rank's phases as text ("1.0,2.5,..."; Double's description round-trips exactly).
                    let encoded = trainer.lastEpochPhases.encoded.map { String($0) }.joined(separator: ",")
                    if let gathered = try world.gather(bytes: Array(encoded.utf8), root: 0) {
                        let phases = gathered.compactMap { bytes in
                            StepPhases(encoded: String(decoding: bytes, as: UTF8.self).split(separator: ",").compactMap { Double($0) })
                        }
                        print(StepProfileReport(epoch: epoch, phases: phases, peakPerCore: peak, kernels: GEMMDispatch.active.path).text)
                        if epoch == epochs {
                            print(GEMMShapeReport(rank: world.rank, shapes: GEMMProfile.shapes, steps: trainer.lastEpochPhases.steps).text)
                        }
                    }
                }
                let exchange = trainer.gradientExchange.rawValue
                let memory = "\(PeakMemory.residentBytes()) \(PeakMemory.currentResidentBytes()) \(PeakMemory.proportionalBytes())"
                guard let gathered = try world.gather(bytes: Array(memory.utf8), root: 0) else { continue }
                let perRank = gathered.map { String(decoding: $0, as: UTF8.self).split(separator: " ").map { (Double($0) ?? 0) / 1e6 } }
                let peakMB = perRank.map { $0[0] }, rssMB = perRank.map { $0[1] }, pssMB = perRank.map { $0[2] }
                func list(_ values: [Double]) -> String { values.map { String(format: "%.0f", $0) }.joined(separator: "/") }
                if json {
                    print(JSONLine.encode(BenchTrainLine(
                        model: model.rawValue, arch: architecture, np: world.size, batch: batchSize, epoch: epoch,
                        seconds: metrics.epochSeconds, samplesPerSecond: metrics.samplesPerSecond,
                        exchangeShare: metrics.exchangeShare, exchange: exchange, reduction: trainer.reduction.recorded,
                        peakRSSMB: peakMB, rssMB: rssMB, pssMB: pssMB)))
                } else {
                    print(String(format: "train %@ %@ np=%d batch=%d epoch %d: %.3f s, %.0f samples/s, exchange %.1f%% (%@), peak RSS per rank %@ MB (now RSS %@, PSS %@)",
                                 model.rawValue, architecture, world.size, batchSize, epoch, metrics.epochSeconds,
                                 metrics.samplesPerSecond, metrics.exchangeShare * 100, exchange,
                                 list(peakMB), list(rssMB), list(pssMB)))
                }
            }
            if world.isRoot && !json && seconds.count > 1 {
                let median = seconds.dropFirst().median!
                print(String(format: "train %@ %@ np=%d: median of epochs 2-%d: %.3f s per epoch",
                             model.rawValue, architecture, world.size, epochs, median))
            }
        }
    }
}

/// One `bench train --json` line; scripts/bench/train-vs-pytorch reads it.
struct BenchTrainLine: Encodable {
    var bench = "train"
    var model: String, arch: String, np: Int, batch: Int, epoch: Int
    var seconds: Double, samplesPerSecond: Double, exchangeShare: Double, exchange: String, reduction: String
    var peakRSSMB: [Double], rssMB: [Double], pssMB: [Double]
    enum CodingKeys: String, CodingKey {
        case bench, model, arch, np, batch, epoch, seconds, samplesPerSecond = "samples_per_second"
        case exchangeShare = "exchange_share", exchange, reduction, peakRSSMB = "peak_rss_mb", rssMB = "rss_mb", pssMB = "pss_mb"
    }
}

/// Memory of this process from /proc (0 where it is missing), in bytes.
///
/// RSS counts every page a process has touched, shared ones included: the node-shared window of
/// `--gradient-exchange shared-memory` counts in full in each rank's RSS although it exists once per
/// node. PSS divides each shared page among the processes that map it, so the PSS of a node's ranks
/// adds up to the memory they use.
enum PeakMemory {
    /// Peak resident set (VmHWM).
    static func residentBytes() -> Int { field("VmHWM:", in: "/proc/self/status") }
    /// Resident set now (VmRSS).
    static func currentResidentBytes() -> Int { field("VmRSS:", in: "/proc/self/status") }
    /// Proportional set size now (Pss).
    static func proportionalBytes() -> Int { field("Pss:", in: "/proc/self/smaps_rollup") }

    private static func field(_ name: String, in path: String) -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kilobytes * 1024
        }
        return 0
    }
}
