import Model

/// Which of the tutorial's models to train.
public enum ModelChoice: String, Codable, Sendable, CaseIterable {
    /// The VAE of §2 (eq. 5–10).
    case vae
    /// The CVAE of §3/§5 conditioned on the stochastically binarized middle pixel column.
    case cvae
    /// A CVAE conditioned on the one-hot class label, so `sample --label d` draws a chosen digit.
    case cvaeLabel = "cvae-label"
    /// The deterministic baseline of §5: middle column → image, no latent.
    case regressor
}

/// Everything that defines a training run. Every rank must hold the same trajectory fields (checked
/// through `trajectoryHash` at start); a checkpoint records them and `--resume` refuses a mismatch.
public struct TrainingConfig: Codable, Sendable, Equatable {
    // Trajectory: change any of these and the run computes something else.
    public var model: ModelChoice = .vae
    /// `classic` (784-400, latent 20), `deep` (784-1000-500-250, latent 30) or hidden widths like `512-256`.
    public var architecture: String = "classic"
    /// Overrides the architecture's latent size.
    public var latent: Int? = nil
    /// Fixed σ of a Gaussian P(X|z) (§2.4.3) instead of the Bernoulli reading of pixels (§4.1).
    public var gaussianSigma: Float? = nil
    public var globalBatch: Int = 128
    public var learningRate: Double = 1e-3
    public var weightDecay: Double = 0
    public var seed: UInt64 = 1
    /// Keep the last, smaller global batch of each epoch instead of dropping it.
    public var keepPartialBatch: Bool = false
    /// Widths of the condition tower, like `1000-500-250` (the tutorial's Caffe CVAE, §5): the condition goes
    /// through these ReLU layers and their features replace it at the encoder's and decoder's first layers.
    /// nil: the raw condition (and no trace in the trajectory, so older checkpoints keep their hash).
    /// Only for conditioned models (cvae, cvae-label, regressor).
    public var conditionTower: String? = nil

    // Schedule and outputs: may differ between a run and its resumption.
    public var epochs: Int = 10
    /// Stop after this many global steps in total (tests, quick looks); nil = run all epochs.
    public var maxSteps: Int? = nil
    /// Checkpoint every this many global steps (0: at the end of every epoch only). Always at the end.
    public var checkpointEvery: Int = 0
    /// Checkpoints to keep in the run directory.
    public var keepCheckpoints: Int = 3
    /// Evaluate the test loss after every epoch.
    public var evaluateEveryEpoch: Bool = true
    /// Write the sample and reconstruction grids after every epoch.
    public var imagesEveryEpoch: Bool = true
    /// Write training loss, its parts and the learning rate to the TensorBoard event file every this many
    /// global steps (0: only per-epoch figures). All ranks take part (one small allreduce per logged step).
    public var logEvery: Int = 50

    public init() {}

    /// Whether training reads the test split on a rank: every rank evaluates its share of it after each epoch;
    /// the rank that writes the per-epoch images (rank 0, with a run directory) draws reconstructions of it.
    /// When false the rank never touches it, so it need not be loaded (`TestSplitLoading.onFirstUse`).
    public func readsTestSplit(writesImages: Bool) -> Bool {
        evaluateEveryEpoch || (imagesEveryEpoch && writesImages)
    }

    /// The network this configuration describes, or a one-line reason why it describes none.
    public func networkSpec(inputSize: Int = 784, imageWidth: Int = 28) throws -> NetworkSpec {
        // Sizes from a checkpoint header are untrusted: Architecture traps on non-positive ones.
        guard (1...(1 << 24)).contains(inputSize), (1...inputSize).contains(imageWidth), (latent ?? 1) >= 1,
              (latent ?? 1) <= Self.maxParameters else {
            throw TrainingError("implausible sizes: \(inputSize)-pixel images \(imageWidth) wide, latent \(latent.map(String.init) ?? "default")")
        }
        guard let architecture = Architecture.parse(self.architecture, latentSize: latent, inputSize: inputSize) else {
            throw TrainingError("--arch '\(self.architecture)' is not classic, deep, or hidden widths like 1000-500-250")
        }
        try Self.requireTrainableSize(architecture, described: self.architecture)
        let output: OutputDistribution = gaussianSigma.map { .gaussian(sigma: $0) } ?? .bernoulli
        let column = Conditioning.pixelColumn(column: imageWidth / 2, imageWidth: imageWidth)
        let tower = try conditionTowerWidths()
        if !tower.isEmpty { try Self.requireTrainableTower(tower, architecture) }
        switch model {
        case .vae:
            guard tower.isEmpty else {
                throw TrainingError("--condition-tower needs a conditioned model (cvae, cvae-label, regressor), not vae")
            }
            return NetworkSpec(kind: .vae, architecture: architecture, output: output)
        case .cvae:
            return NetworkSpec(kind: .cvae, architecture: architecture, conditioning: column, output: output,
                               conditionTower: tower)
        case .cvaeLabel:
            return NetworkSpec(kind: .cvae, architecture: architecture, conditioning: .digitLabel, output: output,
                               conditionTower: tower)
        case .regressor:
            return NetworkSpec(kind: .regressor, architecture: architecture, conditioning: column, output: output,
                               conditionTower: tower)
        }
    }

    /// The widths of `conditionTower` (empty when nil), or a one-line reason why the text is not widths.
    public func conditionTowerWidths() throws -> [Int] {
        guard let text = conditionTower else { return [] }
        guard let widths = Self.parseConditionTower(text) else {
            throw TrainingError("--condition-tower '\(text)' is not layer widths like 1000-500-250 (each 1…\(Self.maxTowerWidth))")
        }
        return widths
    }

    /// Widest condition-tower layer accepted.
    public static let maxTowerWidth = 1 << 20

    /// `"1000-500-250"` → `[1000, 500, 250]`; nil unless one or more dash-separated widths in 1…`maxTowerWidth`.
    public static func parseConditionTower(_ text: String) -> [Int]? {
        guard !text.isEmpty else { return nil }
        return LayerWidths.parse(text, maximum: maxTowerWidth)
    }

    /// Refuses a tower whose layers (fed at most one image's worth of condition), plus the extra first-layer
    /// weights its features add to encoder and decoder, exceed `maxParameters`.
    static func requireTrainableTower(_ tower: [Int], _ architecture: Architecture) throws {
        let firstOutputs = (architecture.encoderHidden.first ?? 2 * architecture.latentSize)
            + (architecture.decoderHidden.first ?? architecture.inputSize)
        var total = tower[tower.count - 1] * firstOutputs
        for (input, output) in zip([architecture.inputSize] + tower, tower) { total += (input + 1) * output }
        guard total <= maxParameters else {
            throw TrainingError("--condition-tower '\(LayerWidths.text(tower))' would need about "
                + "\(total) parameters, more than the \(maxParameters) this build trains")
        }
    }

    /// Most parameters a network may have (2^30: 4 GiB of Float32, 12 GiB with Adam's moments).
    public static let maxParameters = 1 << 30

    /// Refuses, before anything is allocated, a network whose parameter count (weights + biases of every
    /// layer, counted with overflow checks) exceeds `maxParameters` — from a flag like `--arch 100000000-5` or
    /// a checkpoint header claiming huge images.
    static func requireTrainableSize(_ architecture: Architecture, described: String) throws {
        let encoder = [architecture.inputSize] + architecture.encoderHidden + [architecture.latentSize, architecture.latentSize]
        let decoder = [architecture.latentSize] + architecture.decoderHidden + [architecture.inputSize]
        var total = 0, overflow = false
        for widths in [encoder, decoder] {
            for (input, output) in zip(widths, widths.dropFirst()) {
                // Conditioning adds at most one image's worth of inputs to the first layers; counting the input
                // size twice bounds it.
                let (fanIn, o0) = input.addingReportingOverflow(architecture.inputSize + 1)
                let (weights, o1) = fanIn.multipliedReportingOverflow(by: output)
                let (sum, o2) = total.addingReportingOverflow(weights)
                overflow = overflow || o0 || o1 || o2
                total = sum
            }
        }
        guard architecture.inputSize >= 1, !overflow, total <= maxParameters else {
            throw TrainingError("--arch '\(described)' on \(architecture.inputSize)-pixel images would need "
                + (overflow ? "more than 2^63" : "about \(total)") + " parameters, more than the \(maxParameters) this build trains")
        }
    }

    /// The fields that define the trajectory, as one canonical string.
    public var trajectoryDescription: String {
        let sigma = gaussianSigma.map { "\($0.bitPattern)" } ?? "bernoulli"
        return "model=\(model.rawValue) arch=\(architecture) latent=\(latent.map(String.init) ?? "default") output=\(sigma) "
            + "batch=\(globalBatch) lr=\(learningRate.bitPattern) wd=\(weightDecay.bitPattern) seed=\(seed) "
            + "partial=\(keepPartialBatch)"
            + (conditionTower.map { " tower=" + ((try? conditionTowerWidths()).map(LayerWidths.text) ?? $0) } ?? "")
    }

    /// The same fields as the flags that set them, for people: `--model vae --arch classic --batch-size 128 ...`.
    public var flagsDescription: String {
        var flags = "--model \(model.rawValue) --arch \(architecture)" + (latent.map { " --latent \($0)" } ?? "")
            + (gaussianSigma.map { " --gaussian-sigma \($0)" } ?? "")
            + " --batch-size \(globalBatch) --lr \(learningRate) --weight-decay \(weightDecay) --seed \(seed)"
        if keepPartialBatch { flags += " --keep-partial-batch" }
        if let conditionTower { flags += " --condition-tower \(conditionTower)" }
        return flags
    }

    /// A 64-bit FNV-1a hash of `trajectoryDescription` and the training data's fingerprint: ranks compare it
    /// before the first collective, so a rank started with other flags or other data fails fast by number.
    public func trajectoryHash(dataFingerprint: UInt64) -> UInt64 {
        fnv1a(Array((trajectoryDescription + " data=\(dataFingerprint)").utf8))
    }
}

/// A training-time failure with a one-line message for the user.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// 64-bit FNV-1a.
func fnv1a<S: Sequence>(_ bytes: S, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 where S.Element == UInt8 {
    var hash = seed
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}
