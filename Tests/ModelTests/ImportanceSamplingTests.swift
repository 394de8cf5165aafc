import Foundation
import Model
import Testing

/// The stable log-sum-exp and the importance-weighted −log p(x) against direct computations.
struct ImportanceSamplingTests {
    @Test func logSumExpMatchesTheDirectSumOnModerateValues() {
        let values = (0..<37).map { sin(Double($0)) * 20 - 3 }
        let direct = log(values.reduce(0) { $0 + exp($1) })
        #expect(abs(LogSumExp.evaluate(values) - direct) <= 1e-12 * abs(direct))
    }

    @Test func logSumExpSurvivesHugeAndTinyValues() {
        // exp(±1000) overflows / underflows in Double; the shifted form is exact up to rounding.
        #expect(abs(LogSumExp.evaluate([1000, 1000]) - (1000 + log(2.0))) < 1e-12)
        #expect(abs(LogSumExp.evaluate([-1000, -1000, -1000]) - (-1000 + log(3.0))) < 1e-12)
        #expect(abs(LogSumExp.evaluate([-800, -800 + log(3.0)]) - (-800 + log(4.0))) < 1e-12)
        // A value 800 below the maximum contributes nothing visible.
        #expect(LogSumExp.evaluate([5, -795]) == 5)
        #expect(LogSumExp.evaluate([]) == -.infinity)
        #expect(LogSumExp.evaluate([-.infinity, -.infinity]) == -.infinity)
        #expect(LogSumExp.evaluate([1, .infinity]) == .infinity)
        #expect(LogSumExp.evaluate([1, .nan]).isNaN)
        let mean = [-700.0, -701, -702].withUnsafeBufferPointer { LogSumExp.logMeanExp($0) }
        #expect(abs(mean - (-700 + log((1 + exp(-1) + exp(-2)) / 3))) < 1e-12)
    }

    /// A tiny VAE or CVAE (16 pixels of a 4×4 image, latent 3) with random weights and random data.
    static func tinyModel(_ kind: NetworkKind) -> (network: any Network, parameters: FlatBuffer, pixels: [Float], indices: [Int]) {
        let architecture = Architecture(inputSize: 16, encoderHidden: [8], latentSize: 3)
        let spec = NetworkSpec(kind: kind, architecture: architecture,
                               conditioning: .pixelColumn(column: 2, imageWidth: 4))
        let network = makeNetwork(spec, seed: 99)
        let parameters = network.makeParameters()
        let count = 5
        return (network, parameters, uniformArray(count * 16, tag: 41), [3, 17, 4, 250, 9])
    }

    /// −log p̂ computed the slow way: each draw k as its own one-row forward pass with ε_k passed in.
    static func bruteForce(_ network: any Network, _ parameters: FlatBuffer, pixels: [Float], index: Int, samples: Int) -> Double {
        let latent = network.latentSize
        let conditions = network.conditions(pixels: pixels, labels: [0], exampleIndices: [index], epoch: 0, noise: .evaluation)
        let logVariance = Array(network.encode(pixels: pixels, conditions: conditions, parameters: parameters).logVariance)
        let mean = network.encode(pixels: pixels, conditions: conditions, parameters: parameters).mean
        var logWeights: [Double] = []
        for k in 0..<samples {
            var epsilon = [Float](repeating: 0, count: latent)
            epsilon.withUnsafeMutableBufferPointer {
                CounterRNG(seed: network.seed).fillGaussian($0.baseAddress!, count: latent, epoch: k, example: UInt64(index),
                                                            stream: ImportanceSampling.stream)
            }
            let reconstruction = epsilon.withUnsafeBufferPointer { e in
                withBatch(pixels: pixels, labels: [0], indices: [index], epoch: 0) {
                    network.loss($0, parameters: parameters, noise: .evaluation, epsilon: e.baseAddress!).reconstruction
                }
            }
            // log N(z; 0, I) − log N(z; μ, σ²) written out in full, with z = μ + σ ε.
            var logPrior = 0.0, logPosterior = 0.0
            for j in 0..<latent {
                let variance = exp(Double(logVariance[j]))
                let z = Double(mean[j]) + variance.squareRoot() * Double(epsilon[j])
                logPrior += -0.5 * z * z - 0.5 * log(2 * Double.pi)
                logPosterior += -0.5 * (z - Double(mean[j])) * (z - Double(mean[j])) / variance - 0.5 * log(2 * Double.pi * variance)
            }
            logWeights.append(-reconstruction + logPrior - logPosterior)
        }
        // Direct mean of the weights (they are near e^−11 here, no underflow).
        return -log(logWeights.reduce(0) { $0 + exp($1) } / Double(samples))
    }

    @Test(arguments: [NetworkKind.vae, .cvae])
    func batchedEstimateEqualsTheBruteForceOne(kind: NetworkKind) {
        let (network, parameters, pixels, indices) = Self.tinyModel(kind)
        for samples in [1, 7, 300] {   // 300 draws × 5 examples exceeds one pass of rows
            let batched = withBatch(pixels: pixels, labels: [UInt8](repeating: 0, count: 5), indices: indices, epoch: 0) {
                ImportanceSampling.negativeLogLikelihood(network: network, batch: $0, samples: samples, parameters: parameters)
            }
            for e in 0..<indices.count {
                let direct = Self.bruteForce(network, parameters, pixels: Array(pixels[(e * 16)..<((e + 1) * 16)]),
                                             index: indices[e], samples: samples)
                #expect(abs(batched[e] - direct) < 1e-4 * abs(direct), "\(kind) K=\(samples) example \(e): \(batched[e]) vs \(direct)")
            }
        }
    }

    @Test func estimateDoesNotDependOnTheBatchItSitsIn() {
        let (network, parameters, pixels, indices) = Self.tinyModel(.cvae)
        let whole = withBatch(pixels: pixels, labels: [UInt8](repeating: 0, count: 5), indices: indices, epoch: 0) {
            ImportanceSampling.negativeLogLikelihood(network: network, batch: $0, samples: 20, parameters: parameters)
        }
        let last = withBatch(pixels: Array(pixels[(4 * 16)...]), labels: [0], indices: [indices[4]], epoch: 0) {
            ImportanceSampling.negativeLogLikelihood(network: network, batch: $0, samples: 20, parameters: parameters)
        }
        #expect(abs(whole[4] - last[0]) <= 1e-9 * abs(last[0]))
    }

    @Test func importanceWeightedEstimateIsBelowTheNegativeELBO() {
        // In expectation −log p̂_K ≤ −ELBO for every K, and the gap grows with K: with K = 200 the mean over the
        // examples is reliably below the analytic-KL negative ELBO, and below the K = 1 estimate.
        let (network, parameters, pixels, indices) = Self.tinyModel(.vae)
        let labels = [UInt8](repeating: 0, count: 5)
        let elbo = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 0) {
            network.loss($0, parameters: parameters, noise: .evaluation, epsilon: nil)
        }
        let many = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 0) {
            ImportanceSampling.negativeLogLikelihood(network: network, batch: $0, samples: 200, parameters: parameters)
        }
        let one = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 0) {
            ImportanceSampling.negativeLogLikelihood(network: network, batch: $0, samples: 1, parameters: parameters)
        }
        let meanMany = many.reduce(0, +) / 5, meanOne = one.reduce(0, +) / 5
        #expect(meanMany < elbo.total / 5, "IW \(meanMany) vs negative ELBO \(elbo.total / 5)")
        #expect(meanMany < meanOne)
    }

    @Test func regressorLikelihoodIsItsPerExampleLoss() {
        let architecture = Architecture(inputSize: 16, encoderHidden: [8], latentSize: 3)
        let network = makeNetwork(NetworkSpec(kind: .regressor, architecture: architecture,
                                              conditioning: .pixelColumn(column: 1, imageWidth: 4)), seed: 5)
        let parameters = network.makeParameters()
        let pixels = uniformArray(3 * 16, tag: 43)
        let indices = [0, 1, 2]
        let perExample = withBatch(pixels: pixels, labels: [0, 0, 0], indices: indices, epoch: 0) {
            ImportanceSampling.negativeLogLikelihood(network: network, batch: $0, samples: 50, parameters: parameters)
        }
        let total = withBatch(pixels: pixels, labels: [0, 0, 0], indices: indices, epoch: 0) {
            network.loss($0, parameters: parameters, noise: .evaluation, epsilon: nil).total
        }
        // Each loss is on LossGrid: four roundings of at most half a spacing apart.
        #expect(abs(perExample.reduce(0, +) - total) < 1e-9 * total + 2 * LossGrid.spacing)
        #expect(perExample.allSatisfy { $0 > 0 })
    }

    @Test func inverseNormalCDFInvertsErfc() {
        for p in [1e-10, 0.001, 0.02425, 0.1, 0.5, 0.7, 0.97575, 0.999999] {
            let x = InverseNormalCDF.quantile(p)
            #expect(abs(0.5 * erfc(-x / 2.0.squareRoot()) - p) <= 1e-12 * max(p, 1e-3))
        }
        #expect(InverseNormalCDF.quantile(0.5) == 0)
    }
}
