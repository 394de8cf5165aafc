import Testing
@testable import Model

@Suite struct NetworkTests {
    @Test func architecturePresetsAndParsing() {
        #expect(Architecture.classic.description == "784-400-(2x20) | 20-400-784")
        #expect(Architecture.deep.description == "784-1000-500-250-(2x30) | 30-250-500-1000-784")
        #expect(Architecture.parse("1000-500-250", latentSize: 30) == .deep)
        #expect(Architecture.parse("classic") == .classic)
        #expect(Architecture.parse("deep", latentSize: 8)?.latentSize == 8)
        #expect(Architecture.parse("", latentSize: 5)?.encoderHidden == [])
        #expect(Architecture.parse("12-x") == nil)
        #expect(Architecture.parse("12--4") == nil)
        #expect(Architecture.parse("0-4") == nil)
        // The PyTorch example's parameter count: fc1 + (fc21, fc22 fused) + fc3 + fc4.
        let classic = makeNetwork(NetworkSpec(kind: .vae, architecture: .classic), seed: 0)
        #expect(classic.layout.parameterCount == 784 * 400 + 400 + 400 * 40 + 40 + 20 * 400 + 400 + 400 * 784 + 784)
        let cvae = makeNetwork(NetworkSpec(kind: .cvae, architecture: .classic), seed: 0)
        #expect(cvae.conditionSize == 28)
        #expect(cvae.layout.entry(named: "encoder.0.weight")?.shape == [784 + 28, 400])
        #expect(cvae.layout.entry(named: "decoder.0.weight")?.shape == [20 + 28, 400])
        let regressor = makeNetwork(NetworkSpec(kind: .regressor, architecture: .deep, conditioning: .digitLabel), seed: 0)
        #expect(regressor.layout.entry(named: "decoder.0.weight")?.shape == [10, 250])
        #expect(regressor.latentSize == 0)
    }

    /// Example i's loss and gradient do not depend on which batch it sits in: a batch of 8 gives the sum
    /// of the eight batches of one (up to Float summation order in the GEMMs).
    @Test(arguments: [NetworkKind.vae, .cvae, .regressor])
    func resultIndependentOfBatchSplit(_ kind: NetworkKind) {
        let architecture = Architecture(inputSize: 784, encoderHidden: [32], latentSize: 4)
        let network = makeNetwork(NetworkSpec(kind: kind, architecture: architecture), seed: 21)
        let parameters = network.makeParameters()
        let pixels = uniformArray(8 * 784, tag: 70), labels = [UInt8](repeating: 1, count: 8)
        let indices = [5, 1000, 3, 77, 59_999, 12, 13, 400]
        let whole = FlatBuffer(count: network.layout.count), pieces = FlatBuffer(count: network.layout.count)
        let wholeTerms = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 4) {
            network.forwardBackward($0, parameters: parameters, gradients: whole, gradientScale: 0.125)
        }
        var pieceTerms = LossTerms()
        let piece = FlatBuffer(count: network.layout.count)
        for r in 0..<8 {
            pieceTerms += withBatch(pixels: Array(pixels[(r * 784)..<((r + 1) * 784)]), labels: [1], indices: [indices[r]], epoch: 4) {
                network.forwardBackward($0, parameters: parameters, gradients: piece, gradientScale: 0.125)
            }
            for i in 0..<pieces.count { pieces[i] += piece[i] }  // forwardBackward overwrites: sum by hand
        }
        // Nine sums on LossGrid (the whole batch and its eight pieces), each rounded by at most half a spacing.
        let rounding = 4.5 * LossGrid.spacing
        #expect(abs(wholeTerms.total - pieceTerms.total) <= 1e-6 * wholeTerms.total + 2 * rounding)
        #expect(abs(wholeTerms.kl - pieceTerms.kl) <= 1e-6 * max(wholeTerms.kl, 1e-3) + rounding)
        var worst: Float = 0, largest: Float = 0
        for i in 0..<whole.count { worst = max(worst, abs(whole[i] - pieces[i])); largest = max(largest, abs(whole[i])) }
        #expect(worst <= 1e-5 * largest)
        // A different epoch redraws the noise (ε and/or the binarized column), so the loss changes.
        let nextEpoch = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 5) { network.loss($0, parameters: parameters, noise: .training, epsilon: nil) }
        #expect(nextEpoch.total != wholeTerms.total)
    }

    @Test func inferenceEntryPoints() {
        let architecture = Architecture(inputSize: 784, encoderHidden: [16], latentSize: 3)
        for kind in NetworkKind.allCases {
            let network = makeNetwork(NetworkSpec(kind: kind, architecture: architecture), seed: 2)
            let parameters = network.makeParameters()
            let count = 300   // more than one inference chunk
            let pixels = uniformArray(count * 784, tag: 71)
            let conditions = network.conditions(pixels: pixels, labels: [], exampleIndices: Array(0..<count), epoch: 0, noise: .evaluation)
            #expect(conditions.count == count * network.conditionSize)
            #expect(conditions.allSatisfy { $0 == 0 || $0 == 1 })
            let (mean, logVariance) = network.encode(pixels: pixels, conditions: conditions, parameters: parameters)
            #expect(mean.count == count * network.latentSize && logVariance.count == mean.count)
            let images = network.reconstruct(pixels: pixels, conditions: conditions, parameters: parameters)
            #expect(images.count == count * 784 && images.allSatisfy { $0 > 0 && $0 < 1 })
            let samples = network.sample(count: count, conditions: conditions, firstIndex: 10, parameters: parameters)
            #expect(samples.count == count * 784)
            let again = network.sample(count: 2, conditions: Array(conditions[0..<(2 * network.conditionSize)]), firstIndex: 10, parameters: parameters)
            #expect(Array(samples[0..<(2 * 784)]) == again)     // sample i depends only on its index
            if kind != .regressor {
                let decoded = network.decode(latent: mean, conditions: conditions, count: count, parameters: parameters)
                #expect(decoded == images)
            }
        }
    }
}

/// forwardBackward writes the gradient of every parameter, so the training loop needs no zeroing pass: a
/// buffer full of NaN ends exactly as a zeroed one in every layout entry, for every model (a parameter it
/// skipped would keep NaN). The alignment padding between entries is never written: it starts at zero
/// in every gradient buffer and stays there.
struct GradientOverwriteTests {
    static let specs: [NetworkSpec] = {
        let a = Architecture(inputSize: 784, encoderHidden: [24, 16], latentSize: 3)
        return [NetworkSpec(kind: .vae, architecture: a),
                NetworkSpec(kind: .cvae, architecture: a),
                NetworkSpec(kind: .cvae, architecture: a, conditioning: .label(classes: 10)),
                NetworkSpec(kind: .cvae, architecture: a, conditionTower: [12, 8]),
                NetworkSpec(kind: .regressor, architecture: a),
                NetworkSpec(kind: .regressor, architecture: a, conditioning: .label(classes: 10), conditionTower: [6])]
    }()

    @Test(arguments: specs)
    func everyGradientIsWritten(_ spec: NetworkSpec) {
        let network = makeNetwork(spec, seed: 33)
        let parameters = network.makeParameters()
        let pixels = uniformArray(5 * 784, tag: 71), labels: [UInt8] = [3, 1, 4, 1, 5]
        let zeroed = FlatBuffer(count: network.layout.count), poisoned = FlatBuffer(count: network.layout.count)
        for i in 0..<poisoned.count { poisoned[i] = .nan }
        for gradients in [zeroed, poisoned] {
            _ = withBatch(pixels: pixels, labels: labels, indices: [9, 8, 7, 6, 5], epoch: 2) {
                network.forwardBackward($0, parameters: parameters, gradients: gradients, gradientScale: 0.2)
            }
        }
        let indices = network.layout.entries.flatMap { $0.offset..<($0.offset + $0.count) }
        let differing = indices.filter { zeroed[$0].bitPattern != poisoned[$0].bitPattern }.count
        #expect(differing == 0, "\(spec.kind) \(spec.conditioning) tower \(spec.conditionTower): \(differing) gradients not written")
        #expect((0..<zeroed.count).contains { zeroed[$0] != 0 })
    }
}
