import Foundation
import Model
import FileFormats

/// One epoch's figures, as written to `metrics.jsonl` (one JSON object per line) and the log.
/// Losses are per example in nats: reconstruction + KL = the negative ELBO (eq. 10) for the VAE and CVAE.
public struct EpochMetrics: Codable, Sendable, Equatable {
    public var epoch: Int
    public var globalStep: Int
    public var ranks: Int
    public var trainLoss: Double
    public var trainReconstruction: Double
    public var trainKL: Double
    public var testLoss: Double?
    public var testReconstruction: Double?
    public var testKL: Double?
    /// Wall time of the epoch's training steps on rank 0 (no evaluation, no file writing).
    public var epochSeconds: Double
    public var samplesPerSecond: Double
    /// Share of step time spent in the gradient exchange, whichever runs (its allreduces and its waits at
    /// shared-memory barriers), averaged over ranks. JSON key `exchange_share` (`allreduce_share` in the
    /// lines of older runs).
    public var exchangeShare: Double
    /// Set when the run stopped (`--max-steps`) inside this epoch: the steps of it done so far. A resumed
    /// run later writes the whole epoch's line too.
    public var partialSteps: Int? = nil

    enum CodingKeys: String, CodingKey {
        case epoch, globalStep = "global_step", ranks, trainLoss = "train_loss"
        case trainReconstruction = "train_reconstruction", trainKL = "train_kl", testLoss = "test_loss"
        case testReconstruction = "test_reconstruction", testKL = "test_kl", epochSeconds = "epoch_seconds"
        case samplesPerSecond = "samples_per_second", exchangeShare = "exchange_share", partialSteps = "partial_steps"
    }

    /// The JSON line for `metrics.jsonl`.
    public var jsonLine: String { JSONLine.encode(self) }

    /// `epoch 3 | train 262.41 (recon 236.90 + KL 25.51) | test 260.87 | 1.62 s, 37037 samples/s, exchange 6.0%`
    public var summaryLine: String {
        var line = String(format: "epoch %d", epoch) + (partialSteps.map { " (first \($0) steps)" } ?? "")
        line += String(format: " | train %.2f (recon %.2f + KL %.2f)", trainLoss, trainReconstruction, trainKL)
        if let testLoss { line += String(format: " | test %.2f", testLoss) }
        line += String(format: " | %.2f s, %.0f samples/s, exchange %.1f%%", epochSeconds, samplesPerSecond, exchangeShare * 100)
        return line
    }
}

extension EpochMetrics {
    /// Reads a `metrics.jsonl` line, also one written before the key was `exchange_share`, so the figures of
    /// older run directories still draw.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let exchangeShare = try c.decodeIfPresent(Double.self, forKey: .exchangeShare)
            ?? decoder.container(keyedBy: LegacyKeys.self).decode(Double.self, forKey: .allreduceShare)
        self.init(epoch: try c.decode(Int.self, forKey: .epoch), globalStep: try c.decode(Int.self, forKey: .globalStep),
                  ranks: try c.decode(Int.self, forKey: .ranks), trainLoss: try c.decode(Double.self, forKey: .trainLoss),
                  trainReconstruction: try c.decode(Double.self, forKey: .trainReconstruction),
                  trainKL: try c.decode(Double.self, forKey: .trainKL),
                  testLoss: try c.decodeIfPresent(Double.self, forKey: .testLoss),
                  testReconstruction: try c.decodeIfPresent(Double.self, forKey: .testReconstruction),
                  testKL: try c.decodeIfPresent(Double.self, forKey: .testKL),
                  epochSeconds: try c.decode(Double.self, forKey: .epochSeconds),
                  samplesPerSecond: try c.decode(Double.self, forKey: .samplesPerSecond), exchangeShare: exchangeShare,
                  partialSteps: try c.decodeIfPresent(Int.self, forKey: .partialSteps))
    }

    private enum LegacyKeys: String, CodingKey {
        case allreduceShare = "allreduce_share"
    }
}
