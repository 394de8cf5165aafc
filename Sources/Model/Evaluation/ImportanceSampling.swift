#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The importance-weighted estimate of −log p(x) (Burda, Grosse & Salakhutdinov, "Importance Weighted
/// Autoencoders", ICLR 2016), per example.
///
/// With K draws z_k ~ Q(z|X) (the encoder's Gaussian, tutorial eq. 5–10),
///
///     log p̂(x) = log (1/K) Σ_k w_k,   log w_k = log P(X|z_k) + log P(z_k) − log Q(z_k|X),
///
/// a lower bound on log p(x) that rises with K towards it; K = 1 is a one-sample estimate of the ELBO
/// (eq. 10, with the KL also sampled), so in expectation −log p̂ ≤ negative ELBO. With z_k = μ + σ ⊙ ε_k the
/// Gaussian terms reduce to  log P(z) − log Q(z|X) = Σ_j [½ ε_j² + ½ log σ_j² − ½ z_j²]  (the ½ log 2π cancel).
/// For the CVAE (§3, eq. 12–15) every term is conditioned on X (the column) and the estimate is of
/// −log p(Y|X). For the regressor, whose P(Y|X) has no latent, the figure is its exact Bernoulli (or
/// Gaussian) negative log-likelihood of Y, which is what Sohn et al. 2015 compare against.
///
/// Noise is a pure function of (seed, example, k): ε_k of example i is the evaluation reparameterization
/// stream with the counter's epoch slot set to k, and the condition's binarization is the evaluation
/// binarization of (`batch.epoch`, i) — the same for every k, as X is data, not latent. Draw k = 0 is
/// therefore the ε that `Network.loss(noise: .evaluation)` uses at epoch 0. So the estimate is identical
/// for any number of ranks and any batching.
///
/// The K draws of several examples go through the decoder together (examples × K rows, GEMMs of
/// `rowsPerPass` rows); the encoder runs once per example.
public enum ImportanceSampling {
    /// The stream ε_k is drawn from (epoch slot = k).
    public static let stream = NoiseStream.evaluationReparameterization
    /// Decoder rows per pass (examples × K), unless K alone is larger.
    public static let rowsPerPass = 1024

    /// Writes −log p̂ of every example of `batch` to `out` (`batch.count` Doubles), in nats.
    /// `samples` (K ≥ 1) is ignored by the regressor, whose likelihood is exact.
    public static func negativeLogLikelihood(
        network: any Network, batch: MiniBatch, samples: Int, parameters: FlatBuffer, out: UnsafeMutablePointer<Double>
    ) {
        precondition(samples >= 1, "ImportanceSampling: need at least one sample")
        precondition(parameters.count == network.layout.count, "ImportanceSampling: parameters do not match the network")
        if batch.count == 0 { return }
        switch network {
        case let vae as VariationalAutoencoder:
            vae.importanceSampledNegativeLogLikelihood(batch, samples: samples, parameters: parameters, out: out)
        case let regressor as Regressor:
            regressor.negativeLogLikelihood(batch, parameters: parameters, out: out)
        default:
            preconditionFailure("ImportanceSampling: unknown network type \(type(of: network))")
        }
    }

    /// `negativeLogLikelihood` into an array.
    public static func negativeLogLikelihood(
        network: any Network, batch: MiniBatch, samples: Int, parameters: FlatBuffer
    ) -> [Double] {
        var result = [Double](repeating: 0, count: batch.count)
        result.withUnsafeMutableBufferPointer {
            negativeLogLikelihood(network: network, batch: batch, samples: samples, parameters: parameters,
                                  out: $0.baseAddress!)
        }
        return result
    }

    /// log P(z) − log Q(z|X) for one draw z = μ + σ ⊙ ε, in Double: Σ_j ½ ε_j² + ½ log σ_j² − ½ z_j².
    @inlinable
    public static func logPriorMinusLogPosterior(
        logVariance: UnsafePointer<Float>, epsilon: UnsafePointer<Float>, z: UnsafePointer<Float>, latent: Int
    ) -> Double {
        var total = 0.0
        for j in 0..<latent {
            let e = Double(epsilon[j]), zj = Double(z[j])
            total += 0.5 * (e * e + Double(logVariance[j]) - zj * zj)
        }
        return total
    }
}

extension VariationalAutoencoder {
    /// See `ImportanceSampling`. Uses the network's workspace (sized for examples × K rows).
    func importanceSampledNegativeLogLikelihood(
        _ batch: MiniBatch, samples: Int, parameters: FlatBuffer, out: UnsafeMutablePointer<Double>
    ) {
        let examplesPerPass = max(1, ImportanceSampling.rowsPerPass / samples)
        let rng = CounterRNG(seed: seed)
        let p = UnsafePointer(parameters.baseAddress)
        // The conditions of the examples of one pass and their features (the encoder's second input: the
        // condition tower's output, or the conditions themselves), kept apart from the workspace's feature
        // array, which holds them repeated K times for the decoder. The tower runs once per example.
        let exampleConditions = UnsafeMutablePointer<Float>.allocate(capacity: max(1, examplesPerPass * condition))
        let exampleFeatures = UnsafeMutablePointer<Float>.allocate(capacity: max(1, examplesPerPass * feature))
        defer { exampleConditions.deallocate(); exampleFeatures.deallocate() }
        var logWeights = [Double](repeating: 0, count: samples)

        var start = 0
        while start < batch.count {
            let examples = min(examplesPerPass, batch.count - start)
            let rows = examples * samples
            let b = prepare(rows: rows)
            let pixels = batch.pixels + start * input
            let indices = batch.exampleIndices + start
            ConditionBuilder.fill(exampleConditions, conditioning: spec.conditioning, rows: examples, inputSize: input,
                                  pixels: pixels, labels: batch.labels.map { $0 + start }, exampleIndices: indices,
                                  epoch: batch.epoch, rng: rng, stream: NoiseMode.evaluation.binarization)
            if let features = tower.forward(exampleConditions, rows: examples, b.tower, parameters: p) {
                exampleFeatures.update(from: features, count: examples * feature)
            }
            encoder.forward(pixels, firstWidth: input, second: exampleFeatures, secondWidth: feature, rows: examples,
                            outputs: b.encoderOutputs, parameters: p)
            // Row e·K + k: draw k of example e.
            for e in 0..<examples {
                let head = b.head + e * 2 * latent
                for k in 0..<samples {
                    let row = e * samples + k
                    rng.fillGaussian(b.epsilon + row * latent, count: latent, epoch: k, example: UInt64(indices[e]),
                                     stream: ImportanceSampling.stream)
                    ElementwiseLatent.reparameterizeForward(head: head, epsilon: b.epsilon + row * latent,
                                                            z: b.z + row * latent, rows: 1, latent: latent)
                    if feature > 0 {
                        (b.features + row * feature).update(from: exampleFeatures + e * feature, count: feature)
                    }
                }
            }
            decoder.forward(b.z, firstWidth: latent, second: b.features, secondWidth: feature, rows: rows,
                            outputs: b.decoderOutputs, parameters: p)
            for e in 0..<examples {
                let logVariance = UnsafePointer(b.head + e * 2 * latent + latent)
                for k in 0..<samples {
                    let row = e * samples + k
                    let reconstruction = ReconstructionLoss.evaluate(
                        spec.output, logits: b.logits + row * input, targets: pixels + e * input,
                        gradient: b.scratch.0, count: input, gradientScale: 0)
                    logWeights[k] = -reconstruction + ImportanceSampling.logPriorMinusLogPosterior(
                        logVariance: logVariance, epsilon: b.epsilon + row * latent, z: b.z + row * latent, latent: latent)
                }
                out[start + e] = -logWeights.withUnsafeBufferPointer { LogSumExp.logMeanExp($0) }
            }
            start += examples
        }
    }
}

extension Regressor {
    /// −log P(Y|X) of every example: the reconstruction loss of its prediction, row by row (exact; no latent).
    func negativeLogLikelihood(_ batch: MiniBatch, parameters: FlatBuffer, out: UnsafeMutablePointer<Double>) {
        let b = prepare(rows: batch.count)
        forward(batch, b, parameters: parameters.baseAddress, noise: .evaluation)
        for row in 0..<batch.count {
            out[row] = ReconstructionLoss.evaluate(
                spec.output, logits: b.logits + row * input, targets: batch.pixels + row * input,
                gradient: b.scratch.0, count: input, gradientScale: 0)
        }
    }
}
