import Foundation
import Testing
@testable import Model

/// End-to-end: a few hundred Adam steps on synthetic data must cut the loss substantially.
@Suite struct TrainingTests {
    /// 4×4 "images": one of four bar patterns (two rows or two columns lit) with intensities in [0.8, 1]
    /// on the bars and [0, 0.1] elsewhere. A 16-24-(2x2)-24-16 VAE starts near 16·log 2 ≈ 11 nats per
    /// example. Continuous targets put a floor under the cross-entropy: Σ H(xᵢ) (binary entropy), ≈ 4.2 nats
    /// here, and encoding one of four patterns costs ≈ log 4 nats of KL. So the test measures the loss
    /// *above the entropy floor*: after ~300 steps of batch 32 at lr 1e-2 that excess must shrink ≥ 2×.
    @Test(arguments: [NetworkKind.vae, .cvae])
    func lossFallsOnSyntheticBars(_ kind: NetworkKind) {
        let examples = 256, side = 4, pixelsPerImage = side * side
        var pixels = [Float](repeating: 0, count: examples * pixelsPerImage)
        let noise = uniformArray(examples * pixelsPerImage, tag: 80)
        for e in 0..<examples {
            let pattern = e % 4
            for r in 0..<side {
                for c in 0..<side {
                    let lit = pattern < 2 ? (r == pattern || r == pattern + 2) : (c == pattern - 2 || c == pattern)
                    let u = noise[e * pixelsPerImage + r * side + c]
                    pixels[e * pixelsPerImage + r * side + c] = lit ? 0.8 + 0.2 * u : 0.1 * u
                }
            }
        }
        let spec = NetworkSpec(kind: kind, architecture: Architecture(inputSize: 16, encoderHidden: [24], latentSize: 2),
                               conditioning: .pixelColumn(column: 1, imageWidth: 4))
        let network = makeNetwork(spec, seed: 8)
        let parameters = network.makeParameters(), gradients = FlatBuffer(count: network.layout.count)
        let adam = Adam(parameterCount: network.layout.count, learningRate: 1e-2)
        let batch = 32
        var epochLosses: [Double] = []
        var step = 0
        for epoch in 0..<38 {                                  // 38 epochs × 8 batches ≈ 300 steps
            var total = 0.0
            for start in stride(from: 0, to: examples, by: batch) {
                gradients.zero()
                total += withBatch(pixels: Array(pixels[(start * 16)..<((start + batch) * 16)]), labels: [],
                                   indices: Array(start..<(start + batch)), epoch: epoch) {
                    network.forwardBackward($0, parameters: parameters, gradients: gradients, gradientScale: 1 / Float(batch)).total
                }
                adam.update(parameters: parameters, gradients: gradients)
                step += 1
            }
            epochLosses.append(total / Double(examples))
        }
        let floor = pixels.reduce(0.0) { total, x in
            let p = Double(x)
            return total - (p > 0 ? p * log(p) : 0) - (p < 1 ? (1 - p) * log(1 - p) : 0)
        } / Double(examples)
        let ratio = (epochLosses[0] - floor) / (epochLosses.last! - floor)
        print("\(kind): loss per example, first epoch \(epochLosses[0]), last \(epochLosses.last!), entropy floor \(floor), excess shrank \(ratio)x in \(step) steps")
        #expect(epochLosses.allSatisfy { $0.isFinite })
        #expect(ratio >= 2)   // measured 2.7× (VAE, which also pays ≈ log 4 nats of KL) and 5.2× (CVAE)
        #expect(adam.step == step)
    }
}
