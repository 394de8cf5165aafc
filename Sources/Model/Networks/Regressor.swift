/// The tutorial's regression baseline (§5): predict the image Y directly from the condition X with a
/// network of the decoder's capacity (`X → decoderHidden… → logits`), trained with the same
/// reconstruction loss; no z, no KL. Where Y given X is ambiguous it can only blur.
///
/// With `spec.conditionTower` set, X first goes through a `ConditionTower` whose features feed the decoder
/// stack, so the baseline has the same capacity as the CVAE's decoder path (tower + decoder).
public final class Regressor: Network {
    public let spec: NetworkSpec
    public let layout: ParameterLayout
    public let seed: UInt64
    public let network: MLP
    /// X → features read by `network` (no layers without `spec.conditionTower`).
    public let tower: ConditionTower
    public var conditionSize: Int { condition }
    public var latentSize: Int { 0 }
    let input: Int, condition: Int
    /// Width of `network`'s input: the tower's output, or `condition`.
    let feature: Int
    var work: Buffers?

    public init(_ spec: NetworkSpec, seed: UInt64) {
        precondition(spec.kind == .regressor && spec.conditioning != .none, "Regressor: needs a conditioned regressor spec")
        self.spec = spec
        self.seed = seed
        input = spec.architecture.inputSize
        condition = spec.conditioning.size(inputSize: input)
        var layout = ParameterLayout()
        feature = spec.conditionTower.last ?? condition
        network = MLP("decoder", widths: [feature] + spec.architecture.decoderHidden + [input],
                      finalActivation: .identity, layout: &layout)
        tower = ConditionTower(conditionSize: condition, widths: spec.conditionTower, layout: &layout)
        self.layout = layout
    }

    struct Buffers {
        let capacity: Int
        let workspace: Workspace
        let conditions: UnsafeMutablePointer<Float>
        let outputs: [UnsafeMutablePointer<Float>]
        let tower: ConditionTower.Buffers
        /// `network`'s input (`capacity × feature`): the tower's output or `conditions`.
        let features: UnsafeMutablePointer<Float>
        let scratch: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)
        var logits: UnsafeMutablePointer<Float> { outputs[outputs.count - 1] }
    }

    func prepare(rows: Int) -> Buffers {
        if let work, work.capacity >= rows { return work }
        let c = max(rows, 1)
        let scratchWidth = max(network.maxWidth, tower.maxWidth)
        let sizes = [c * condition, c * scratchWidth, c * scratchWidth] + network.layers.map { c * $0.outputs }
            + tower.arraySizes(rows: c)
        let w = Workspace(floats: Workspace.floatsNeeded(sizes))
        let conditions = w.take(c * condition)
        let outputs = network.layers.map { w.take(c * $0.outputs) }
        let towerBuffers = tower.take(from: w, rows: c)
        let buffers = Buffers(capacity: c, workspace: w, conditions: conditions, outputs: outputs,
                              tower: towerBuffers, features: towerBuffers.outputs.last ?? conditions,
                              scratch: (w.take(c * scratchWidth), w.take(c * scratchWidth)))
        work = buffers
        return buffers
    }

    func forward(_ batch: MiniBatch, _ b: Buffers, parameters: UnsafePointer<Float>, noise: NoiseMode) {
        ConditionBuilder.fill(b.conditions, conditioning: spec.conditioning, rows: batch.count, inputSize: input,
                              pixels: batch.pixels, labels: batch.labels, exampleIndices: batch.exampleIndices,
                              epoch: batch.epoch, rng: CounterRNG(seed: seed), stream: noise.binarization)
        tower.forward(b.conditions, rows: batch.count, b.tower, parameters: parameters)
        network.forward(b.features, firstWidth: feature, second: nil, secondWidth: 0, rows: batch.count,
                        outputs: b.outputs, parameters: parameters)
    }

    /// `epsilon` is ignored (the regressor has no latent noise).
    public func forwardBackward(
        _ batch: MiniBatch, parameters: FlatBuffer, gradients: FlatBuffer, gradientScale: Float,
        epsilon: UnsafePointer<Float>?
    ) -> LossTerms {
        precondition(parameters.count == layout.count && gradients.count == layout.count, "buffers do not match layout")
        if batch.count == 0 { return LossTerms() }
        let b = prepare(rows: batch.count)
        forward(batch, b, parameters: parameters.baseAddress, noise: .training)
        let reconstruction = batch.leaves.sumOnGrid { leaf in
            ReconstructionLoss.evaluate(
                spec.output, logits: b.logits + leaf.lowerBound * input, targets: batch.pixels + leaf.lowerBound * input,
                gradient: b.scratch.0 + leaf.lowerBound * input, count: leaf.count * input, gradientScale: gradientScale)
        }
        network.backward(b.features, firstWidth: feature, second: nil, secondWidth: 0, leaves: batch.leaves,
                         outputs: b.outputs, scratch: b.scratch, firstInputGradient: b.tower.featureGradient,
                         parameters: parameters.baseAddress, gradients: gradients.baseAddress, ready: batch.gradientsReady,
                         sharing: batch.weightGradientSharing)
        tower.backward(b.conditions, leaves: batch.leaves, b.tower, scratch: b.scratch,
                       parameters: parameters.baseAddress, gradients: gradients.baseAddress, ready: batch.gradientsReady,
                       sharing: batch.weightGradientSharing)
        return LossTerms(reconstruction: reconstruction)
    }

    public func loss(_ batch: MiniBatch, parameters: FlatBuffer, noise: NoiseMode,
                     epsilon: UnsafePointer<Float>?) -> LossTerms {
        if batch.count == 0 { return LossTerms() }
        let b = prepare(rows: batch.count)
        forward(batch, b, parameters: parameters.baseAddress, noise: noise)
        // Leaf by leaf on `LossGrid`, as `forwardBackward` sums them.
        return LossTerms(reconstruction: batch.leaves.sumOnGrid { leaf in
            ReconstructionLoss.evaluate(
                spec.output, logits: b.logits + leaf.lowerBound * input, targets: batch.pixels + leaf.lowerBound * input,
                gradient: b.scratch.0 + leaf.lowerBound * input, count: leaf.count * input, gradientScale: 0)
        })
    }

    public func conditions(pixels: [Float], labels: [UInt8], exampleIndices: [Int], epoch: Int,
                           noise: NoiseMode) -> [Float] {
        InferenceHelpers.conditions(spec.conditioning, inputSize: input, pixels: pixels, labels: labels,
                                    exampleIndices: exampleIndices, epoch: epoch, rng: CounterRNG(seed: seed),
                                    stream: noise.binarization)
    }

    /// The regressor has no encoder: empty arrays.
    public func encode(pixels: [Float], conditions: [Float], parameters: FlatBuffer) -> (mean: [Float], logVariance: [Float]) {
        ([], [])
    }

    /// The prediction from the conditions (`latent` is ignored).
    public func decode(latent: [Float], conditions: [Float], count: Int, parameters: FlatBuffer) -> [Float] {
        precondition(conditions.count == count * condition, "decode: \(conditions.count) condition floats for \(count) rows")
        var out = [Float](repeating: 0, count: count * input)
        InferenceHelpers.chunks(count) { start, rows in
            let b = prepare(rows: rows)
            conditions.withUnsafeBufferPointer { c in
                let features = tower.forward(c.baseAddress! + start * condition, rows: rows, b.tower,
                                             parameters: parameters.baseAddress)!
                network.forward(features, firstWidth: feature, second: nil, secondWidth: 0,
                                rows: rows, outputs: b.outputs, parameters: parameters.baseAddress)
            }
            out.withUnsafeMutableBufferPointer {
                ElementwiseLoss.sigmoid(b.logits, $0.baseAddress! + start * input, count: rows * input)
            }
        }
        return out
    }

    public func reconstruct(pixels: [Float], conditions: [Float], parameters: FlatBuffer) -> [Float] {
        decode(latent: [], conditions: conditions, count: conditions.count / condition, parameters: parameters)
    }

    public func sample(count: Int, conditions: [Float], firstIndex: Int, parameters: FlatBuffer) -> [Float] {
        decode(latent: [], conditions: conditions, count: count, parameters: parameters)
    }
}
