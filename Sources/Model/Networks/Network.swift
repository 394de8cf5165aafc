/// One shard of a global batch, as the data-parallel loop hands it to a network.
///
/// All pointers must stay valid for the duration of the call. `exampleIndices` are the examples' indices
/// in the whole dataset (not positions in the batch): together with `epoch` and the network's seed they
/// select the example's noise, so a rank's result does not depend on how the global batch was split.
public struct MiniBatch {
    public var count: Int
    /// `count × inputSize` pixels in [0, 1], row-major.
    public var pixels: UnsafePointer<Float>
    /// `count` class labels (needed only by label-conditioned networks).
    public var labels: UnsafePointer<UInt8>?
    /// `count` global example indices.
    public var exampleIndices: UnsafePointer<Int>
    public var epoch: Int
    /// The order of the backward pass's sums over the examples (`BatchLeaves`); one leaf unless the
    /// trainer asks for the order that does not depend on the number of ranks.
    public var leaves: BatchLeaves
    /// Told each part of the parameters as soon as backward has written its gradients for the step, so an
    /// exchange can start summing them across ranks while backward goes on (`GradientsReady`).
    public var gradientsReady: GradientsReady?
    /// Computes the weight gradients, perhaps with the help of ranks that finished backward first
    /// (`WeightGradientSharing`); nil: this rank alone.
    public var weightGradientSharing: (any WeightGradientSharing)?

    public init(count: Int, pixels: UnsafePointer<Float>, labels: UnsafePointer<UInt8>?,
                exampleIndices: UnsafePointer<Int>, epoch: Int, leaves: BatchLeaves? = nil,
                gradientsReady: GradientsReady? = nil, weightGradientSharing: (any WeightGradientSharing)? = nil) {
        precondition(leaves.map { $0.rows == count } ?? true, "MiniBatch: the leaves must cover the \(count) examples")
        self.count = count
        self.pixels = pixels
        self.labels = labels
        self.exampleIndices = exampleIndices
        self.epoch = epoch
        self.leaves = leaves ?? .whole(count)
        self.gradientsReady = gradientsReady
        self.weightGradientSharing = weightGradientSharing
    }
}

/// Called by backward with a range of the parameter (and gradient) buffer whose gradients are final for
/// the step and whose parameters backward reads no more: from the call on, an exchange may sum those
/// gradients across ranks and the shared-memory exchange may update those parameters. A range is a part
/// of one tensor — a bias, or a band of a weight's rows as the weight gradient is computed — and each
/// element is reported at most once per step; the last layers come first, as backward runs. (So a layer's
/// input gradient, which reads its weights, is computed before its weight gradient.)
public typealias GradientsReady = (Range<Int>) -> Void

/// Loss terms SUMMED over the examples of a batch (divide by the number of examples for a per-example
/// figure). `total` is the negative evidence lower bound (eq. 10) for the VAE and CVAE, the
/// reconstruction loss alone for the regressor.
public struct LossTerms: Sendable, Equatable {
    public var reconstruction: Double
    public var kl: Double
    public var total: Double { reconstruction + kl }

    public init(reconstruction: Double = 0, kl: Double = 0) {
        self.reconstruction = reconstruction
        self.kl = kl
    }

    public static func + (a: LossTerms, b: LossTerms) -> LossTerms {
        LossTerms(reconstruction: a.reconstruction + b.reconstruction, kl: a.kl + b.kl)
    }
    public static func += (a: inout LossTerms, b: LossTerms) { a = a + b }
}

/// What every model offers the training loop and the command line. All three models (VAE, CVAE,
/// regressor) conform, so a data-parallel loop treats them alike:
///
///     let network = makeNetwork(spec, seed: seed)
///     let parameters = FlatBuffer(count: network.layout.count), gradients = FlatBuffer(count: network.layout.count)
///     network.layout.initialize(parameters, seed: seed)            // rank 0, then broadcast
///     gradients.zero()
///     let terms = network.forwardBackward(batch, parameters: parameters, gradients: gradients,
///                                         gradientScale: 1 / Float(globalBatch))
///     communicator.allreduceSum(gradients)                          // the exact global mean
///     adam.update(parameters: parameters, gradients: gradients)
///
/// Networks keep a reusable activation workspace, so one instance must not run two batches concurrently.
public protocol Network: AnyObject {
    var spec: NetworkSpec { get }
    /// Parameter tensors and their offsets in the flat buffers.
    var layout: ParameterLayout { get }
    /// Seed of the counter RNG for ε and binarization (the same on every rank).
    var seed: UInt64 { get }
    /// Width of the condition vector (0 for the VAE).
    var conditionSize: Int { get }
    /// Width of z (0 for the regressor).
    var latentSize: Int { get }

    /// Forward and backward on a batch: WRITES `gradientScale · ∂(Σ_batch loss)/∂θ` into `gradients` (every
    /// element, whatever the buffer held: no zeroing pass is needed) and returns the loss terms summed over
    /// the batch. Noise comes from the counter RNG with the training
    /// streams, unless `epsilon` (`count × latentSize`) is supplied (tests, reference comparisons).
    func forwardBackward(
        _ batch: MiniBatch, parameters: FlatBuffer, gradients: FlatBuffer, gradientScale: Float,
        epsilon: UnsafePointer<Float>?
    ) -> LossTerms

    /// Forward only (held-out loss). Noise from the `noise` streams (normally `.evaluation`) unless
    /// `epsilon` is given; with `.training` and the same batch it reproduces `forwardBackward`'s loss.
    func loss(_ batch: MiniBatch, parameters: FlatBuffer, noise: NoiseMode, epsilon: UnsafePointer<Float>?) -> LossTerms

    /// Condition vectors (`count × conditionSize`) for images/labels, binarized with noise from
    /// `(seed, epoch, exampleIndices[i], noise.binarization)`. Empty for the VAE.
    func conditions(pixels: [Float], labels: [UInt8], exampleIndices: [Int], epoch: Int, noise: NoiseMode) -> [Float]

    /// (μ, log σ²) of Q(z|X[, condition]) — each `count × latentSize`. Empty for the regressor.
    func encode(pixels: [Float], conditions: [Float], parameters: FlatBuffer) -> (mean: [Float], logVariance: [Float])

    /// Pixel probabilities σ(f(z[, condition])), `count × inputSize`. The regressor ignores `latent`.
    func decode(latent: [Float], conditions: [Float], count: Int, parameters: FlatBuffer) -> [Float]

    /// Reconstruction through the posterior mean: decode(μ(X)). The regressor predicts from the condition.
    func reconstruct(pixels: [Float], conditions: [Float], parameters: FlatBuffer) -> [Float]

    /// Samples: z ~ N(0, I) from stream `.generation` (sample i uses example index `firstIndex + i`),
    /// decoded with the given conditions (`count × conditionSize`, empty for the VAE).
    func sample(count: Int, conditions: [Float], firstIndex: Int, parameters: FlatBuffer) -> [Float]
}

extension Network {
    public func forwardBackward(
        _ batch: MiniBatch, parameters: FlatBuffer, gradients: FlatBuffer, gradientScale: Float
    ) -> LossTerms {
        forwardBackward(batch, parameters: parameters, gradients: gradients, gradientScale: gradientScale, epsilon: nil)
    }

    public func loss(_ batch: MiniBatch, parameters: FlatBuffer) -> LossTerms {
        loss(batch, parameters: parameters, noise: .evaluation, epsilon: nil)
    }

    /// A freshly allocated, initialized parameter buffer (PyTorch nn.Linear default init from `seed`).
    public func makeParameters() -> FlatBuffer {
        let parameters = FlatBuffer(count: layout.count)
        initializeParameters(parameters)
        return parameters
    }

    /// Writes the seeded initial parameters into `parameters` (`layout.count` floats).
    public func initializeParameters(_ parameters: FlatBuffer) {
        layout.initialize(parameters, seed: seed)
    }
}

/// Builds the network a spec describes.
public func makeNetwork(_ spec: NetworkSpec, seed: UInt64) -> any Network {
    switch spec.kind {
    case .vae, .cvae: return VariationalAutoencoder(spec, seed: seed)
    case .regressor: return Regressor(spec, seed: seed)
    }
}
