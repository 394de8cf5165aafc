import Model
import FileFormats
import Datasets

/// What a training checkpoint's JSON header holds: the run configuration and where in the trajectory it
/// was taken. With counter-based noise and a `(seed, epoch)` permutation, `(epoch, stepInEpoch)` is all the
/// position a resumed run needs to continue the same trajectory bit for bit.
public struct TrainingCheckpointMetadata: Codable, Sendable, Equatable {
    public static let kind = "vae-dist training checkpoint"
    public var kind: String = TrainingCheckpointMetadata.kind
    public var config: TrainingConfig
    public var dataset: String
    public var dataFingerprint: UInt64
    /// The epoch in progress (0-based) and the next step to run in it.
    public var epoch: Int
    public var stepInEpoch: Int
    /// Global steps done so far.
    public var globalStep: Int
    public var adamStep: Int
    /// Running sums of the epoch in progress (summed over all ranks): reconstruction, KL, examples.
    public var epochReconstruction: Double
    public var epochKL: Double
    public var epochExamples: Int
    public var parameterCount: Int
    public var parameterChecksum: UInt64
    /// Image shape of the training data, so `sample` can rebuild the network without the data set.
    public var imageRows: Int
    public var imageCols: Int
    /// The gradient exchange the run used (`GradientExchangeMode`'s raw value): `--gradient-exchange auto`
    /// resumes with the same one, so the floating-point summation order, and the trajectory, stay the same.
    /// Absent in older checkpoints.
    public var gradientExchange: String? = nil
    /// `ReductionPlan.recorded`: `canonical 8` (the same bits on 1, 2, 4 or 8 ranks) or `native`. Absent in
    /// older checkpoints (native).
    public var reductionOrder: String? = nil

    public init(config: TrainingConfig, dataset: String, dataFingerprint: UInt64, epoch: Int, stepInEpoch: Int,
                globalStep: Int, adamStep: Int, epochReconstruction: Double, epochKL: Double, epochExamples: Int,
                parameterCount: Int, parameterChecksum: UInt64, imageRows: Int, imageCols: Int,
                gradientExchange: String? = nil, reductionOrder: String? = nil) {
        self.config = config
        self.dataset = dataset
        self.dataFingerprint = dataFingerprint
        self.epoch = epoch
        self.stepInEpoch = stepInEpoch
        self.globalStep = globalStep
        self.adamStep = adamStep
        self.epochReconstruction = epochReconstruction
        self.epochKL = epochKL
        self.epochExamples = epochExamples
        self.parameterCount = parameterCount
        self.parameterChecksum = parameterChecksum
        self.imageRows = imageRows
        self.imageCols = imageCols
        self.gradientExchange = gradientExchange
        self.reductionOrder = reductionOrder
    }

    /// The network this checkpoint's parameters belong to.
    public func networkSpec() throws -> NetworkSpec {
        // Untrusted header fields: checked before they size anything (found by scripts/test-fuzz).
        guard (1...IDX.maxSide).contains(imageRows), (1...IDX.maxSide).contains(imageCols) else {
            throw TrainingError("the checkpoint says its images are \(imageRows)×\(imageCols); each side must be 1…\(IDX.maxSide)")
        }
        return try config.networkSpec(inputSize: imageRows * imageCols, imageWidth: imageCols)
    }
}

/// Tensor names inside a training checkpoint.
public enum CheckpointTensorName {
    public static let parameters = "parameters"
    public static let adamFirstMoment = "adam.m"
    public static let adamSecondMoment = "adam.v"
}

/// A loaded training checkpoint, validated against the model it is meant for.
public struct TrainingCheckpoint {
    public let path: String
    public let metadata: TrainingCheckpointMetadata
    public let parameters: [Float]
    public let adamFirstMoment: [Float]
    public let adamSecondMoment: [Float]

    /// Decodes checkpoint bytes (read by rank 0 and broadcast) and checks they describe a training run whose
    /// parameters are intact.
    public init(bytes: [UInt8], path: String) throws {
        let contents = try CheckpointFile.decode(TrainingCheckpointMetadata.self, from: bytes, path: path)
        let metadata = contents.metadata
        guard metadata.kind == TrainingCheckpointMetadata.kind else {
            throw FileFormatError(path, "not a training checkpoint (it says '\(metadata.kind)')")
        }
        let count = metadata.parameterCount
        parameters = try contents.tensor(CheckpointTensorName.parameters, count: count)
        adamFirstMoment = try contents.tensor(CheckpointTensorName.adamFirstMoment, count: count)
        adamSecondMoment = try contents.tensor(CheckpointTensorName.adamSecondMoment, count: count)
        let checksum = parameters.withUnsafeBufferPointer { FlatBuffer.checksum($0) }
        guard checksum == metadata.parameterChecksum else {
            throw FileFormatError(path, "parameter checksum does not match the header: the checkpoint is damaged")
        }
        self.path = path
        self.metadata = metadata
    }

    /// The network with this checkpoint's parameters, its noise seeded with `seed` (default: the training seed).
    public func restoreNetwork(seed: UInt64? = nil) throws -> (network: any Network, parameters: FlatBuffer) {
        let network = makeNetwork(try metadata.networkSpec(), seed: seed ?? metadata.config.seed)
        try requireCompatible(with: network.spec, parameterCount: network.layout.count)
        return (network, FlatBuffer(parameters))
    }

    /// Reads a checkpoint file from disk.
    public init(path: String) throws {
        try self.init(bytes: try CheckpointFile.readBytes(path: path), path: path)
    }

    /// Reads what a user names as a checkpoint — a file, a run directory or `<run>/latest`
    /// (`CheckpointDirectory.resolve`) — in this process alone (the commands that do not train).
    public init(resolving checkpointOrRun: String) throws {
        try self.init(path: try CheckpointDirectory.resolve(checkpointOrRun))
    }

    /// Throws unless the network `config` builds has exactly this checkpoint's parameter layout.
    public func requireCompatible(with spec: NetworkSpec, parameterCount: Int) throws {
        guard parameterCount == metadata.parameterCount else {
            throw FileFormatError(path, "holds a \(metadata.config.model.rawValue) with arch \(metadata.config.architecture) "
                + "(\(metadata.parameterCount) parameters) but this run builds \(spec.architecture) (\(parameterCount) parameters)")
        }
    }
}
