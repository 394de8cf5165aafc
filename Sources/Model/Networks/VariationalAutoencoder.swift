/// The VAE (tutorial §2, eq. 5–10) and, with a condition, the CVAE (§3, eq. 12–15; §5).
///
/// Encoder Q(z | Y[, X]) = N(μ, diag σ²): an MLP over the image Y (and the condition X, as a second input
/// part of the first layer) ending in one linear head of width 2·L = [μ | log σ²].
/// z = μ + σ ⊙ ε with ε ~ N(0, I) (eq. 10). Decoder P(Y | z[, X]): an MLP over [z, X] giving logits.
/// Loss per example (the negative of eq. 10's integrand, eq. 15 for the CVAE with prior N(0, I)):
/// reconstruction −log P(Y|z, X) (sigmoid cross-entropy or fixed-σ Gaussian) + KL[Q ‖ N(0, I)] (eq. 7).
///
/// With `spec.conditionTower` set, X first goes through one `ConditionTower` (as the tutorial's Caffe
/// net, §5) and its features stand in for X in both the encoder and the decoder.
public final class VariationalAutoencoder: Network {
    public let spec: NetworkSpec
    public let layout: ParameterLayout
    public let seed: UInt64
    public let encoder: MLP
    public let decoder: MLP
    /// X → features read by encoder and decoder (no layers without `spec.conditionTower`).
    public let tower: ConditionTower
    public var conditionSize: Int { condition }
    public var latentSize: Int { latent }
    let input: Int, latent: Int, condition: Int
    /// Width of the encoder's and decoder's second input part: the tower's output, or `condition`.
    let feature: Int
    var work: Buffers?

    public init(_ spec: NetworkSpec, seed: UInt64) {
        precondition(spec.kind != .regressor, "VariationalAutoencoder: use Regressor for the regressor")
        let a = spec.architecture
        self.spec = spec
        self.seed = seed
        input = a.inputSize
        latent = a.latentSize
        condition = spec.conditioning.size(inputSize: a.inputSize)
        var layout = ParameterLayout()
        // The head (last encoder layer) has width 2·latent: μ and log σ² from ONE fused linear layer.
        // The tower's tensors come last, so the encoder's and decoder's initialization does not depend on it.
        let towerWidths = spec.conditionTower
        feature = towerWidths.last ?? condition
        encoder = MLP("encoder", widths: [input + feature] + a.encoderHidden + [2 * latent], finalActivation: .identity,
                      layout: &layout)
        decoder = MLP("decoder", widths: [latent + feature] + a.decoderHidden + [input], finalActivation: .identity,
                      layout: &layout)
        tower = ConditionTower(conditionSize: condition, widths: towerWidths, layout: &layout)
        self.layout = layout
    }

    /// Activation arrays for up to `capacity` rows.
    struct Buffers {
        let capacity: Int
        let workspace: Workspace
        let conditions, epsilon, z, zGradient: UnsafeMutablePointer<Float>
        let encoderOutputs, decoderOutputs: [UnsafeMutablePointer<Float>]
        let tower: ConditionTower.Buffers
        /// The encoder's and decoder's second input (`capacity × feature`): the tower's output or `conditions`.
        let features: UnsafeMutablePointer<Float>
        let scratch: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)
        var head: UnsafeMutablePointer<Float> { encoderOutputs[encoderOutputs.count - 1] }
        var logits: UnsafeMutablePointer<Float> { decoderOutputs[decoderOutputs.count - 1] }
    }

    /// Makes sure the workspace holds `rows` rows (allocates only when it grows).
    func prepare(rows: Int) -> Buffers {
        if let work, work.capacity >= rows { return work }
        let c = max(rows, 1)
        let scratchWidth = max(encoder.maxWidth, decoder.maxWidth, tower.maxWidth)
        let sizes = [c * condition, c * latent, c * latent, c * latent, c * scratchWidth, c * scratchWidth]
            + encoder.layers.map { c * $0.outputs } + decoder.layers.map { c * $0.outputs } + tower.arraySizes(rows: c)
        let w = Workspace(floats: Workspace.floatsNeeded(sizes))
        let conditions = w.take(c * condition), epsilon = w.take(c * latent), z = w.take(c * latent)
        let zGradient = w.take(c * latent)
        let encoderOutputs = encoder.layers.map { w.take(c * $0.outputs) }
        let decoderOutputs = decoder.layers.map { w.take(c * $0.outputs) }
        let towerBuffers = tower.take(from: w, rows: c)
        let buffers = Buffers(
            capacity: c, workspace: w, conditions: conditions, epsilon: epsilon, z: z, zGradient: zGradient,
            encoderOutputs: encoderOutputs, decoderOutputs: decoderOutputs,
            tower: towerBuffers, features: towerBuffers.outputs.last ?? conditions,
            scratch: (w.take(c * scratchWidth), w.take(c * scratchWidth)))
        work = buffers
        return buffers
    }

    /// Steps 1–5 of a pass: condition (and its tower features), encoder, ε, z, decoder logits. Returns the KL-free state in `b`.
    func forward(_ batch: MiniBatch, _ b: Buffers, parameters: UnsafePointer<Float>, noise: NoiseMode,
                 epsilon: UnsafePointer<Float>?) {
        let rows = batch.count
        let rng = CounterRNG(seed: seed)
        ConditionBuilder.fill(b.conditions, conditioning: spec.conditioning, rows: rows, inputSize: input,
                              pixels: batch.pixels, labels: batch.labels, exampleIndices: batch.exampleIndices,
                              epoch: batch.epoch, rng: rng, stream: noise.binarization)
        tower.forward(b.conditions, rows: rows, b.tower, parameters: parameters)
        encoder.forward(batch.pixels, firstWidth: input, second: b.features, secondWidth: feature, rows: rows,
                        outputs: b.encoderOutputs, parameters: parameters)
        if let epsilon {
            b.epsilon.update(from: epsilon, count: rows * latent)
        } else {
            rng.fillGaussianRows(b.epsilon, width: latent,
                                 examples: UnsafeBufferPointer(start: batch.exampleIndices, count: rows),
                                 epoch: batch.epoch, stream: noise.reparameterization)
        }
        ElementwiseLatent.reparameterizeForward(head: b.head, epsilon: b.epsilon, z: b.z, rows: rows, latent: latent)
        decoder.forward(b.z, firstWidth: latent, second: b.features, secondWidth: feature, rows: rows,
                        outputs: b.decoderOutputs, parameters: parameters)
    }

    public func forwardBackward(
        _ batch: MiniBatch, parameters: FlatBuffer, gradients: FlatBuffer, gradientScale: Float,
        epsilon: UnsafePointer<Float>?
    ) -> LossTerms {
        precondition(parameters.count == layout.count && gradients.count == layout.count, "buffers do not match layout")
        let rows = batch.count
        if rows == 0 { return LossTerms() }
        let b = prepare(rows: rows)
        let p = UnsafePointer(parameters.baseAddress), g = gradients.baseAddress
        forward(batch, b, parameters: p, noise: .training, epsilon: epsilon)

        // Reconstruction term (leaf by leaf: loss sums on `LossGrid`) and its gradient w.r.t. the logits.
        let reconstruction = batch.leaves.sumOnGrid { leaf in
            ReconstructionLoss.evaluate(
                spec.output, logits: b.logits + leaf.lowerBound * input, targets: batch.pixels + leaf.lowerBound * input,
                gradient: b.scratch.0 + leaf.lowerBound * input, count: leaf.count * input, gradientScale: gradientScale)
        }
        // With a tower, the decoder writes ∂loss/∂features and the encoder adds its share below.
        decoder.backward(b.z, firstWidth: latent, second: b.features, secondWidth: feature, leaves: batch.leaves,
                         outputs: b.decoderOutputs, scratch: b.scratch, firstInputGradient: b.zGradient,
                         secondInputGradient: b.tower.featureGradient, parameters: p, gradients: g,
                         ready: batch.gradientsReady, sharing: batch.weightGradientSharing)

        // Head gradient in scratch.0: KL (overwrites) then the reparameterization path (adds).
        let kl = batch.leaves.sumOnGrid { leaf in
            ElementwiseLatent.gaussianKL(head: b.head + leaf.lowerBound * 2 * latent,
                                         headGradient: b.scratch.0 + leaf.lowerBound * 2 * latent,
                                         rows: leaf.count, latent: latent, gradientScale: gradientScale)
        }
        ElementwiseLatent.reparameterizeBackward(head: b.head, epsilon: b.epsilon, zGradient: b.zGradient,
                                                 headGradient: b.scratch.0, rows: rows, latent: latent)
        encoder.backward(batch.pixels, firstWidth: input, second: b.features, secondWidth: feature, leaves: batch.leaves,
                         outputs: b.encoderOutputs, scratch: b.scratch, firstInputGradient: nil,
                         secondInputGradient: b.tower.featureGradient, accumulateSecondInputGradient: true,
                         parameters: p, gradients: g, ready: batch.gradientsReady, sharing: batch.weightGradientSharing)
        tower.backward(b.conditions, leaves: batch.leaves, b.tower, scratch: b.scratch, parameters: p, gradients: g,
                       ready: batch.gradientsReady, sharing: batch.weightGradientSharing)
        return LossTerms(reconstruction: reconstruction, kl: kl)
    }

    public func loss(_ batch: MiniBatch, parameters: FlatBuffer, noise: NoiseMode,
                     epsilon: UnsafePointer<Float>?) -> LossTerms {
        let rows = batch.count
        if rows == 0 { return LossTerms() }
        let b = prepare(rows: rows)
        forward(batch, b, parameters: parameters.baseAddress, noise: noise, epsilon: epsilon)
        // Leaf by leaf on `LossGrid`, as `forwardBackward` sums them.
        let reconstruction = batch.leaves.sumOnGrid { leaf in
            ReconstructionLoss.evaluate(
                spec.output, logits: b.logits + leaf.lowerBound * input, targets: batch.pixels + leaf.lowerBound * input,
                gradient: b.scratch.0 + leaf.lowerBound * input, count: leaf.count * input, gradientScale: 0)
        }
        let kl = batch.leaves.sumOnGrid { leaf in
            ElementwiseLatent.gaussianKL(head: b.head + leaf.lowerBound * 2 * latent, rows: leaf.count, latent: latent)
        }
        return LossTerms(reconstruction: reconstruction, kl: kl)
    }

    // MARK: inference

    public func conditions(pixels: [Float], labels: [UInt8], exampleIndices: [Int], epoch: Int,
                           noise: NoiseMode) -> [Float] {
        InferenceHelpers.conditions(spec.conditioning, inputSize: input, pixels: pixels, labels: labels,
                                    exampleIndices: exampleIndices, epoch: epoch, rng: CounterRNG(seed: seed),
                                    stream: noise.binarization)
    }

    public func encode(pixels: [Float], conditions: [Float], parameters: FlatBuffer) -> (mean: [Float], logVariance: [Float]) {
        let count = InferenceHelpers.rows(pixels.count, width: input)
        precondition(conditions.count == count * condition, "encode: \(conditions.count) condition floats for \(count) rows")
        var mean = [Float](repeating: 0, count: count * latent), logVariance = mean
        InferenceHelpers.chunks(count) { start, rows in
            let b = prepare(rows: rows)
            pixels.withUnsafeBufferPointer { x in
                conditions.withUnsafeBufferPointer { c in
                    let features = tower.forward(c.baseAddress.map { $0 + start * condition }, rows: rows, b.tower,
                                                 parameters: parameters.baseAddress)
                    encoder.forward(x.baseAddress! + start * input, firstWidth: input,
                                    second: features, secondWidth: feature,
                                    rows: rows, outputs: b.encoderOutputs, parameters: parameters.baseAddress)
                }
            }
            for r in 0..<rows {
                for j in 0..<latent {
                    mean[(start + r) * latent + j] = b.head[r * 2 * latent + j]
                    logVariance[(start + r) * latent + j] = b.head[r * 2 * latent + latent + j]
                }
            }
        }
        return (mean, logVariance)
    }

    public func decode(latent z: [Float], conditions: [Float], count: Int, parameters: FlatBuffer) -> [Float] {
        precondition(z.count == count * latent && conditions.count == count * condition, "decode: sizes do not match")
        var out = [Float](repeating: 0, count: count * input)
        InferenceHelpers.chunks(count) { start, rows in
            let b = prepare(rows: rows)
            z.withUnsafeBufferPointer { zp in
                conditions.withUnsafeBufferPointer { c in
                    let features = tower.forward(c.baseAddress.map { $0 + start * condition }, rows: rows, b.tower,
                                                 parameters: parameters.baseAddress)
                    decoder.forward(zp.baseAddress! + start * latent, firstWidth: latent,
                                    second: features, secondWidth: feature,
                                    rows: rows, outputs: b.decoderOutputs, parameters: parameters.baseAddress)
                }
            }
            out.withUnsafeMutableBufferPointer {
                ElementwiseLoss.sigmoid(b.logits, $0.baseAddress! + start * input, count: rows * input)
            }
        }
        return out
    }

    public func reconstruct(pixels: [Float], conditions: [Float], parameters: FlatBuffer) -> [Float] {
        let (mean, _) = encode(pixels: pixels, conditions: conditions, parameters: parameters)
        return decode(latent: mean, conditions: conditions, count: mean.count / latent, parameters: parameters)
    }

    public func sample(count: Int, conditions: [Float], firstIndex: Int, parameters: FlatBuffer) -> [Float] {
        var z = [Float](repeating: 0, count: count * latent)
        let rng = CounterRNG(seed: seed)
        z.withUnsafeMutableBufferPointer { zp in
            for i in 0..<count {
                rng.fillGaussian(zp.baseAddress! + i * latent, count: latent, epoch: 0,
                                 example: UInt64(firstIndex + i), stream: .generation)
            }
        }
        return decode(latent: z, conditions: conditions, count: count, parameters: parameters)
    }
}
