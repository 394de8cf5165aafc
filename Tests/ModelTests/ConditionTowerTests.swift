import Foundation
import Testing
@testable import Model

/// The optional condition tower (tutorial §5's Caffe CVAE): the tower-less networks are unchanged, a tower
/// is one shared set of `condition.*` tensors that replaces the condition's width at the first layers, and
/// the training, inference and importance-sampling paths agree with it. Its gradients are checked in
/// `ModelGradientTests`.
@Suite struct ConditionTowerTests {
    static let small = Architecture(inputSize: 12, encoderHidden: [7], latentSize: 3)
    static let twoHidden = Architecture(inputSize: 12, encoderHidden: [9, 6], latentSize: 3, decoderHidden: [5, 8])

    struct Before: CustomStringConvertible, Sendable {
        let spec: NetworkSpec
        let layoutCount: Int, parameterCount: Int
        let reconstruction: Double, kl: Double, weightedGradient: Double
        var description: String { "\(spec.kind) \(spec.conditioning)" }
    }

    /// Recorded with the code before the tower existed (commit be38515, same setup as `forwardBackwardFigures`).
    static let before: [Before] = [
        Before(spec: NetworkSpec(kind: .cvae, architecture: small, conditioning: .pixelColumn(column: 1, imageWidth: 4)),
               layoutCount: 368, parameterCount: 305, reconstruction: 34.355091631412506, kl: 0.999823950736036, weightedGradient: 3.9581608544976916),
        Before(spec: NetworkSpec(kind: .cvae, architecture: twoHidden, conditioning: .label(classes: 3)),
               layoutCount: 528, parameterCount: 437, reconstruction: 34.90571564435959, kl: 0.41105665072915554, weightedGradient: -0.23269045518827625),
        Before(spec: NetworkSpec(kind: .regressor, architecture: twoHidden, conditioning: .pixelColumn(column: 2, imageWidth: 4)),
               layoutCount: 208, parameterCount: 176, reconstruction: 33.536812245845795, kl: 0, weightedGradient: -20.23900370672345),
    ]

    /// Loss terms and Σᵢ gᵢ·(i mod 7 + 1) of one `forwardBackward` on a fixed batch.
    static func forwardBackwardFigures(_ network: any Network) -> (terms: LossTerms, weightedGradient: Double) {
        let parameters = FlatBuffer(count: network.layout.count)
        network.layout.initialize(parameters, seed: 3)
        let gradients = FlatBuffer(count: network.layout.count)
        let pixels = uniformArray(4 * 12, tag: 50)
        let epsilon = gaussianArray(4 * 3, tag: 51)
        let terms = withBatch(pixels: pixels, labels: [0, 2, 1, 2], indices: [11, 3, 250, 7], epoch: 2) { batch in
            network.forwardBackward(batch, parameters: parameters, gradients: gradients, gradientScale: 0.25, epsilon: epsilon)
        }
        var weighted = 0.0
        for i in 0..<network.layout.count { weighted += Double(gradients[i]) * Double(i % 7 + 1) }
        return (terms, weighted)
    }

    @Test(arguments: before)
    func towerlessNetworkIsUnchanged(_ reference: Before) {
        var spec = reference.spec
        spec.conditionTower = []
        #expect(spec == reference.spec)
        let network = makeNetwork(spec, seed: 77)
        #expect(network.layout.count == reference.layoutCount)
        #expect(network.layout.parameterCount == reference.parameterCount)
        #expect(!network.layout.entries.contains { $0.name.hasPrefix("condition.") })
        let (terms, weighted) = Self.forwardBackwardFigures(network)
        // Same code path, same kernels: equal up to the last bits a different CPU build could move.
        #expect(abs(terms.reconstruction - reference.reconstruction) <= 1e-6 * abs(reference.reconstruction))
        #expect(abs(terms.kl - reference.kl) <= 1e-6 * abs(reference.kl) + 1e-12)
        #expect(abs(weighted - reference.weightedGradient) <= 1e-5 * abs(reference.weightedGradient))
    }

    @Test(arguments: [NetworkKind.cvae, .regressor])
    func towerIsOneSharedStackThatReplacesTheConditionWidth(_ kind: NetworkKind) {
        let architecture = Architecture(inputSize: 16, encoderHidden: [8], latentSize: 3)
        let column = Conditioning.pixelColumn(column: 2, imageWidth: 4)
        let plain = makeNetwork(NetworkSpec(kind: kind, architecture: architecture, conditioning: column), seed: 1)
        let towered = makeNetwork(NetworkSpec(kind: kind, architecture: architecture, conditioning: column,
                                              conditionTower: [10, 6]), seed: 1)
        let names = towered.layout.entries.map(\.name).filter { $0.hasPrefix("condition.") }
        #expect(names == ["condition.0.weight", "condition.0.bias", "condition.1.weight", "condition.1.bias"])
        #expect(towered.layout.entry(named: "condition.0.weight")?.shape == [4, 10])
        #expect(towered.layout.entry(named: "condition.1.weight")?.shape == [10, 6])
        // The 4-pixel condition's rows at each first layer become 6 feature rows; the tower adds 4·10+10 + 10·6+6.
        let firstLayers = kind == .cvae ? [("encoder.0.weight", 8), ("decoder.0.weight", 8)] : [("decoder.0.weight", 8)]
        for (name, outputs) in firstLayers {
            #expect(towered.layout.entry(named: name)!.shape[0] == plain.layout.entry(named: name)!.shape[0] - 4 + 6)
            #expect(towered.layout.entry(named: name)!.shape[1] == outputs)
        }
        #expect(towered.layout.parameterCount
            == plain.layout.parameterCount + firstLayers.count * 2 * 8 + (4 * 10 + 10) + (10 * 6 + 6))
        #expect(towered.conditionSize == 4)   // the raw condition stays the network's interface
    }

    @Test(arguments: [NetworkKind.cvae, .regressor])
    func trainingAndInferencePathsAgreeWithATower(_ kind: NetworkKind) {
        let architecture = Architecture(inputSize: 16, encoderHidden: [8], latentSize: 3)
        let network = makeNetwork(NetworkSpec(kind: kind, architecture: architecture,
                                              conditioning: .pixelColumn(column: 2, imageWidth: 4), conditionTower: [10, 6]),
                                  seed: 5)
        let parameters = network.makeParameters()
        let pixels = uniformArray(3 * 16, tag: 60), indices = [4, 9, 30]
        let conditions = network.conditions(pixels: pixels, labels: [], exampleIndices: indices, epoch: 0, noise: .evaluation)
        // Decoding the posterior mean through the inference entry points equals the loss path with ε = 0.
        let zeros = [Float](repeating: 0, count: 3 * 3)
        let lossWithMean = zeros.withUnsafeBufferPointer { e in
            withBatch(pixels: pixels, labels: [0, 0, 0], indices: indices, epoch: 0) {
                network.loss($0, parameters: parameters, noise: .evaluation, epsilon: e.baseAddress!).reconstruction
            }
        }
        let reconstruction = network.reconstruct(pixels: pixels, conditions: conditions, parameters: parameters)
        var crossEntropy = 0.0
        for (p, y) in zip(reconstruction, pixels) {
            crossEntropy -= Double(y) * log(Double(p)) + Double(1 - y) * log(Double(1 - p))
        }
        #expect(abs(crossEntropy - lossWithMean) < 1e-4 * lossWithMean, "\(crossEntropy) vs \(lossWithMean)")
    }

    @Test func importanceSamplingUsesTheTower() {
        let architecture = Architecture(inputSize: 16, encoderHidden: [8], latentSize: 3)
        let network = makeNetwork(NetworkSpec(kind: .cvae, architecture: architecture,
                                              conditioning: .pixelColumn(column: 2, imageWidth: 4), conditionTower: [10, 6]),
                                  seed: 99)
        let parameters = network.makeParameters()
        let pixels = uniformArray(5 * 16, tag: 41), indices = [3, 17, 4, 250, 9]
        for samples in [1, 7, 300] {   // 300 draws × 5 examples exceeds one pass of rows
            let batched = withBatch(pixels: pixels, labels: [UInt8](repeating: 0, count: 5), indices: indices, epoch: 0) {
                ImportanceSampling.negativeLogLikelihood(network: network, batch: $0, samples: samples, parameters: parameters)
            }
            for e in 0..<indices.count {
                let direct = ImportanceSamplingTests.bruteForce(
                    network, parameters, pixels: Array(pixels[(e * 16)..<((e + 1) * 16)]), index: indices[e], samples: samples)
                #expect(abs(batched[e] - direct) < 1e-4 * abs(direct), "K=\(samples) example \(e): \(batched[e]) vs \(direct)")
            }
        }
    }
}
