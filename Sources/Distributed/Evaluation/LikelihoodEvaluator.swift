import Foundation
import Model
import FileFormats
import Datasets

/// A model's test-set figures, per example in nats (means over the evaluated examples).
public struct TestSetEvaluation: Codable, Sendable, Equatable {
    /// Examples evaluated (each exactly once, whatever the number of ranks).
    public var examples: Int
    /// K, the importance samples per example (0 for the regressor, whose likelihood is exact).
    public var samples: Int
    /// −log P(X|z) at one draw from Q (evaluation noise, draw 0), and KL[Q(z|X) ‖ N(0, I)] (eq. 7).
    public var reconstruction: Double
    public var kl: Double
    /// reconstruction + KL: the negative ELBO (eq. 10; eq. 15 for the CVAE). The regressor's is its NLL.
    public var negativeELBO: Double { reconstruction + kl }
    /// The importance-weighted estimate of −log p(x) (−log p(Y|X) for the CVAE) with `samples` draws, or
    /// the regressor's exact Bernoulli negative log-likelihood of Y.
    public var negativeLogLikelihood: Double
    /// Wall time of the evaluation on rank 0 (seconds), including waiting for the other ranks.
    public var seconds: Double
    public var ranks: Int

    enum CodingKeys: String, CodingKey {
        case examples, samples, reconstruction, kl, negativeLogLikelihood = "nll", seconds, ranks
    }

    /// The `eval --json` line: these figures plus `negative_elbo` (so readers need not add the parts) and
    /// what was evaluated.
    public func jsonLine(checkpoint: String, dataset: String, model: String) -> String {
        struct Line: Encodable {
            var evaluation: TestSetEvaluation
            var checkpoint: String, dataset: String, model: String
            enum Keys: String, CodingKey { case negativeELBO = "negative_elbo", checkpoint, dataset, model }
            func encode(to encoder: any Encoder) throws {
                try evaluation.encode(to: encoder)
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode(evaluation.negativeELBO, forKey: .negativeELBO)
                try container.encode(checkpoint, forKey: .checkpoint)
                try container.encode(dataset, forKey: .dataset)
                try container.encode(model, forKey: .model)
            }
        }
        return JSONLine.encode(Line(evaluation: self, checkpoint: checkpoint, dataset: dataset, model: model))
    }
}

/// Test-set negative ELBO (split into reconstruction and KL) and the importance-weighted −log p(x), computed
/// by all ranks together: each rank takes its share of fixed blocks of the first N examples
/// (`EvaluationBlocks`), so each is evaluated exactly once; block losses and per-example −log p(x) are put on
/// `LossGrid` and summed exactly, and the sums allreduced. All noise is keyed by (seed, example[, k]) (see
/// `ImportanceSampling`), so the result equals that of one rank, bit for bit.
public struct LikelihoodEvaluator {
    public let network: any Network
    public let parameters: FlatBuffer
    public let world: any Communicator
    /// K (≥ 1).
    public let samples: Int
    /// Examples per call into the network.
    public var chunk = 100

    public init(network: any Network, parameters: FlatBuffer, world: any Communicator, samples: Int = 100) {
        precondition(samples >= 1, "LikelihoodEvaluator: samples must be at least 1")
        self.network = network
        self.parameters = parameters
        self.world = world
        self.samples = samples
    }

    /// Evaluates the first `limit` examples of `split` (all when nil).
    public func evaluate(on split: DataSplit, limit: Int? = nil) throws -> TestSetEvaluation {
        let started = DispatchTime.now().uptimeNanoseconds
        let n = min(limit ?? split.count, split.count)
        let pixels = FlatBuffer(count: chunk * split.featureCount)
        var terms = LossTerms()
        var nll = 0.0
        var perExample = [Double](repeating: 0, count: chunk)
        for block in EvaluationBlocks(count: n, block: chunk, rank: world.rank, size: world.size) {
            let indices = Array(block)
            split.fillBatch(indices: indices, into: pixels.baseAddress)
            let labels = indices.map { split.labels[$0] }
            indices.withUnsafeBufferPointer { indexPointer in
                labels.withUnsafeBufferPointer { labelPointer in
                    let batch = MiniBatch(count: indices.count, pixels: pixels.baseAddress, labels: labelPointer.baseAddress,
                                          exampleIndices: indexPointer.baseAddress!, epoch: 0)
                    terms += network.loss(batch, parameters: parameters, noise: .evaluation, epsilon: nil)
                    perExample.withUnsafeMutableBufferPointer {
                        ImportanceSampling.negativeLogLikelihood(network: network, batch: batch, samples: samples,
                                                                 parameters: parameters, out: $0.baseAddress!)
                    }
                }
            }
            for i in 0..<indices.count { nll += LossGrid.round(perExample[i]) }
        }
        var sums = [terms.reconstruction, terms.kl, nll]
        try world.allreduceSum(&sums)
        let count = Double(max(n, 1))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return TestSetEvaluation(examples: n, samples: network.latentSize > 0 ? samples : 0,
                                 reconstruction: sums[0] / count, kl: sums[1] / count,
                                 negativeLogLikelihood: sums[2] / count, seconds: seconds, ranks: world.size)
    }
}
