import Testing
@testable import Model

/// Finite-difference checks of the WHOLE loss of every model: each parameter θᵢ is perturbed by ±h,
/// the loss (summed over the batch, accumulated in Double, same noise — ε fixed, CVAE binarization drawn
/// from the same counter so it is identical) is re-evaluated through `Network.loss(noise: .training)`,
/// and the central difference times `gradientScale` is compared with what `forwardBackward` added to the
/// gradient buffer.
///
/// Tolerance: |fd − analytic| ≤ 2e−4 + 2e−3·|fd| with h = 1e−2. Float rounding of a forward pass moves the
/// loss (≈ 30) by ~1e−6, i.e. ~1e−4·scale in the difference quotient; curvature (sigmoid, exp(½ log σ²))
/// adds h²·|L‴|/6 ≲ 1e−5. ReLU kinks are the remaining hazard — a central difference across a kink is
/// not a derivative — so after each of the two evaluations the on/off pattern of every hidden ReLU is
/// recorded, and a parameter whose ±h evaluations differ in pattern is skipped (counted; at most 10% may
/// be skipped). An actual gradient bug (wrong index, factor ½, missing KL or condition path) gives errors
/// of order the gradient itself, 10–1000× the tolerance.
@Suite struct ModelGradientTests {
    static let rows = 4
    static let small = Architecture(inputSize: 12, encoderHidden: [7], latentSize: 3)
    static let twoHidden = Architecture(inputSize: 12, encoderHidden: [9, 6], latentSize: 3, decoderHidden: [5, 8])

    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let spec: NetworkSpec
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "VAE bernoulli", spec: NetworkSpec(kind: .vae, architecture: small)),
        Case(name: "VAE gaussian σ=0.5", spec: NetworkSpec(kind: .vae, architecture: small, output: .gaussian(sigma: 0.5))),
        Case(name: "VAE two hidden layers", spec: NetworkSpec(kind: .vae, architecture: twoHidden)),
        Case(name: "CVAE pixel column", spec: NetworkSpec(kind: .cvae, architecture: small, conditioning: .pixelColumn(column: 1, imageWidth: 4))),
        Case(name: "CVAE label", spec: NetworkSpec(kind: .cvae, architecture: twoHidden, conditioning: .label(classes: 3))),
        Case(name: "Regressor pixel column", spec: NetworkSpec(kind: .regressor, architecture: twoHidden, conditioning: .pixelColumn(column: 2, imageWidth: 4))),
        Case(name: "Regressor label", spec: NetworkSpec(kind: .regressor, architecture: small, conditioning: .label(classes: 3))),
        // With a condition tower (ConditionTower): its gradient sums the encoder's and the decoder's paths.
        Case(name: "CVAE pixel column, tower 5-4", spec: NetworkSpec(kind: .cvae, architecture: small,
             conditioning: .pixelColumn(column: 1, imageWidth: 4), conditionTower: [5, 4])),
        Case(name: "CVAE label, tower 5-4", spec: NetworkSpec(kind: .cvae, architecture: twoHidden,
             conditioning: .label(classes: 3), conditionTower: [5, 4])),
        Case(name: "Regressor pixel column, tower 5-4", spec: NetworkSpec(kind: .regressor, architecture: twoHidden,
             conditioning: .pixelColumn(column: 2, imageWidth: 4), conditionTower: [5, 4])),
        Case(name: "Regressor label, tower 6", spec: NetworkSpec(kind: .regressor, architecture: small,
             conditioning: .label(classes: 3), conditionTower: [6])),
    ]

    @Test(arguments: cases)
    func wholeLossGradient(_ testCase: Case) {
        let network = makeNetwork(testCase.spec, seed: 77)
        let parameters = FlatBuffer(count: network.layout.count)
        network.layout.initialize(parameters, seed: 3)
        // Scale weights up ×2 from the nn.Linear default so activations and the latent are not tiny.
        for entry in network.layout.entries { for i in 0..<entry.count { parameters[entry.offset + i] *= 2 } }
        let gradients = FlatBuffer(count: network.layout.count)
        let pixels = uniformArray(Self.rows * 12, tag: 50)
        let labels: [UInt8] = [0, 2, 1, 2]
        let indices = [11, 3, 250, 7]
        let epsilon = gaussianArray(Self.rows * 3, tag: 51)
        let scale = 1 / Float(Self.rows)

        let terms = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 2) { batch in
            network.forwardBackward(batch, parameters: parameters, gradients: gradients, gradientScale: scale, epsilon: epsilon)
        }
        let lossOnly = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 2) { batch in
            network.loss(batch, parameters: parameters, noise: .training, epsilon: epsilon)
        }
        #expect(terms == lossOnly)                       // forward of both entry points agree exactly
        #expect(testCase.spec.kind == .regressor ? terms.kl == 0 : terms.kl > 0)

        func loss() -> Double {
            withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 2) { batch in
                network.loss(batch, parameters: parameters, noise: .training, epsilon: epsilon).total
            }
        }
        var result = GradientCheckResult()
        var skipped = 0
        for entry in network.layout.entries {
            for i in entry.offset..<(entry.offset + entry.count) {
                var patterns: [[Bool]] = []
                let fd = Double(scale) * centralDifference(parameters.baseAddress, i, h: 1e-2) {
                    let value = loss()
                    patterns.append(reluPattern(network, rows: Self.rows))
                    return value
                }
                if patterns[0] != patterns[1] { skipped += 1; continue }
                result.record(index: i, analytic: Double(gradients[i]), numeric: fd, absolute: 2e-4, relative: 2e-3,
                              floor: 1e-2)
            }
        }
        // Padding between tensors never receives gradient.
        var padding = Set(0..<network.layout.count)
        for entry in network.layout.entries { padding.subtract(entry.offset..<(entry.offset + entry.count)) }
        #expect(padding.allSatisfy { gradients[$0] == 0 })
        // A tower really receives gradient (not a vacuous pass through dead units).
        let tower = network.layout.entries.filter { $0.name.hasPrefix("condition.") }
        #expect(tower.isEmpty == testCase.spec.conditionTower.isEmpty)
        if !tower.isEmpty {
            #expect(tower.contains { entry in (entry.offset..<(entry.offset + entry.count)).contains { abs(gradients[$0]) > 1e-3 } })
        }
        print("\(testCase.name): \(result), skipped at a ReLU kink \(skipped)")
        #expect(result.checked + skipped == network.layout.parameterCount)
        #expect(skipped * 10 <= network.layout.parameterCount)
        #expect(result.failures == 0, "\(testCase.name): \(result)")
    }

    /// Which hidden ReLU units are on, from the network's last forward pass.
    func reluPattern(_ network: any Network, rows: Int) -> [Bool] {
        var pattern: [Bool] = []
        func add(_ mlp: MLP, _ outputs: [UnsafeMutablePointer<Float>]) {
            for (layer, output) in zip(mlp.layers, outputs) where layer.activation == .relu {
                for k in 0..<(rows * layer.outputs) { pattern.append(output[k] > 0) }
            }
        }
        if let vae = network as? VariationalAutoencoder, let work = vae.work {
            add(vae.encoder, work.encoderOutputs)
            add(vae.decoder, work.decoderOutputs)
            if let tower = vae.tower.mlp { add(tower, work.tower.outputs) }
        } else if let regressor = network as? Regressor, let work = regressor.work {
            add(regressor.network, work.outputs)
            if let tower = regressor.tower.mlp { add(tower, work.tower.outputs) }
        }
        return pattern
    }
}
