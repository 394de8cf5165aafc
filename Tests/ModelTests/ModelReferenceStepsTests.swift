import Foundation
import Testing
@testable import Model

/// Three training steps of every model against the float64 numpy reference in Fixtures/models_adam3.json
/// (written by scripts/reference/models_reference.py): VAE (Bernoulli, Gaussian), CVAE on the middle
/// column with and without a condition tower, label CVAE (and one with a tower, Gaussian output and weight
/// decay), regressor with and without a tower. Each case starts from the fixture's weights (injected by
/// layout name), and three batches with fixed ε go through `forwardBackward` (gradientScale 1/batch) and
/// `Adam`; the loss terms of every step and, after the third, the parameters and both Adam moments are
/// compared. The middle column's pixels are exactly 0 or 1, which binarize to themselves whatever the
/// counter RNG draws (X = u < pixel, u ∈ [0, 1)), so the reference needs no Swift noise.
///
/// Why the moments too: Adam's step m̂/√v̂ does not change when a gradient element is multiplied by a
/// constant, so parameters alone would not see a gradient that is consistently a few percent off; m and
/// v scale with it.
///
/// Tolerances, about 10× the worst seen over the eight cases and the avx512, avx2 and reference GEMM paths
/// (each case prints its worst |Δ| and |Δ|/tolerance):
/// - loss terms: |Δ| ≤ 2⁻²⁰ + 2e−6·|ref|. Sums of 64 Float-rounded terms (reconstruction ≈ 35…56, KL ≈
///   0.7…9) plus `LossGrid`'s ≤ 2⁻²¹ [worst 0.09 of the tolerance].
/// - parameters: |Δθ| ≤ 1e−6 = 1e−4·lr. Adam moves each θ by ≈ lr = 0.01 per step whatever the gradient's
///   size; what differs is the Float rounding of θ (ulp ≤ 1.2e−7 here) plus lr times the relative error of
///   m̂/√v̂ [worst |Δθ| 7.3e−8]. A row swap or a wrong part order moves θ by ~lr or more.
/// - moments: |Δ| ≤ 2e−6·max|ref of the tensor| + 2e−5·|ref| (v: 4e−5·|ref|, as it is quadratic) [worst
///   0.07 (m) and 0.02 (v) of the tolerance]. A gradient element 3% off moves its m by 3%.
/// Seen to fail (then undone): two rows of `decoder.0.weight` swapped, or the last pixel row and the first
/// condition row of `encoder.0.weight`; one tensor's gradient ×1.03 (m and v in every case, θ only with
/// weight decay); one gradient element ×1.03; the encoder's share of the tower-feature gradient
/// overwriting the decoder's; Adam without its second bias correction; the fixture missing.
@Suite struct ModelReferenceStepsTests {
    struct Fixture: Decodable {
        struct Batch: Decodable { let pixels: [Double]; let labels: [Int]; let epsilon: [Double] }
        struct Loss: Decodable { let reconstruction: Double; let kl: Double }
        struct Optimizer: Decodable { let learning_rate, beta1, beta2, epsilon: Double }
        struct Final: Decodable { let parameters, exp_avg, exp_avg_sq: [String: [Double]] }
        struct Case: Decodable {
            let name, kind, conditioning, output: String
            let sigma: Double
            let condition_tower: [Int]
            let weight_decay: Double
            let shapes: [String: [Int]]
            let initial: [String: [Double]]
            let losses: [Loss]
            let final: Final
        }
        let input, image_width, column, classes, latent, batch: Int
        let hidden: [Int]
        let gradient_scale: Double
        let adam: Optimizer
        let batches: [Batch]
        let cases: [Case]
    }

    /// Every case the fixture must hold (a case missing from it fails, it is not skipped).
    static let caseNames = ["vae-bernoulli", "vae-gaussian", "cvae-column", "cvae-column-tower", "cvae-label",
                            "cvae-label-tower-decay", "regressor-column", "regressor-column-tower"]

    static func load() throws -> Fixture {
        let url = try #require(Bundle.module.url(forResource: "models_adam3", withExtension: "json", subdirectory: "Fixtures"),
                               "Fixtures/models_adam3.json is missing: python3 scripts/reference/models_reference.py")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    static func spec(_ c: Fixture.Case, _ f: Fixture) throws -> NetworkSpec {
        let kind = try #require(NetworkKind(rawValue: c.kind), "kind \(c.kind)")
        let conditionings: [String: Conditioning] = [
            "none": .none, "pixel-column": .pixelColumn(column: f.column, imageWidth: f.image_width),
            "label": .label(classes: f.classes)]
        let conditioning = try #require(conditionings[c.conditioning], "conditioning \(c.conditioning)")
        try #require(c.output == "bernoulli" || c.output == "gaussian", "output \(c.output)")
        let output: OutputDistribution = c.output == "gaussian" ? .gaussian(sigma: Float(c.sigma)) : .bernoulli
        let architecture = Architecture(inputSize: f.input, encoderHidden: f.hidden, latentSize: f.latent)
        return NetworkSpec(kind: kind, architecture: architecture, conditioning: conditioning, output: output,
                           conditionTower: c.condition_tower)
    }

    /// Largest |Δ| of `actual` (a flat buffer in `layout`) against `expected`, the worst |Δ|/tolerance, and
    /// the failures of |Δ| ≤ scaled·max|expected of the tensor| + floor + relative·|expected|.
    struct Comparison: CustomStringConvertible {
        var worst = 0.0, worstName = "", maxAbsolute = 0.0, failures = 0
        var description: String { "max |Δ| \(maxAbsolute), worst |Δ|/tolerance \(worst) at \(worstName)" }

        mutating func compare(_ what: String, _ actual: FlatBuffer, _ layout: ParameterLayout,
                              _ expected: [String: [Double]], scaled: Double, floor: Double, relative: Double) {
            for entry in layout.entries {
                guard let reference = expected[entry.name], reference.count == entry.count else {
                    Issue.record("\(what): \(entry.name) missing or of the wrong size"); failures += 1; continue
                }
                let largest = reference.map { abs($0) }.max() ?? 0
                for i in 0..<entry.count {
                    let error = abs(Double(actual[entry.offset + i]) - reference[i])
                    maxAbsolute = max(maxAbsolute, error)
                    let allowed = scaled * largest + floor + relative * abs(reference[i])
                    // Reported as a fraction of the tolerance, so cases and tensors compare.
                    if error / allowed > worst { worst = error / allowed; worstName = "\(entry.name)[\(i)]" }
                    if error > allowed {
                        failures += 1
                        if failures <= 10 { print("\(what) \(entry.name)[\(i)]: \(actual[entry.offset + i]) vs \(reference[i])") }
                    }
                }
            }
        }
    }

    @Test func fixtureHoldsEveryCase() throws {
        let fixture = try Self.load()
        #expect(fixture.cases.map(\.name) == Self.caseNames)
        #expect(fixture.batches.count == 3)
        #expect(fixture.gradient_scale == 1 / Double(fixture.batch))
    }

    @Test(arguments: caseNames)
    func threeAdamStepsMatchNumpy(_ name: String) throws {
        let fixture = try Self.load()
        let reference = try #require(fixture.cases.first { $0.name == name }, "case \(name) is not in the fixture")
        let network = makeNetwork(try Self.spec(reference, fixture), seed: 1)
        let layout = network.layout
        #expect(Set(layout.entries.map(\.name)) == Set(reference.shapes.keys))
        let parameters = FlatBuffer(count: layout.count), gradients = FlatBuffer(count: layout.count)
        for entry in layout.entries {
            #expect(reference.shapes[entry.name] == entry.shape, "\(entry.name)")
            let values = try #require(reference.initial[entry.name])
            try #require(values.count == entry.count)
            for i in 0..<entry.count { parameters[entry.offset + i] = Float(values[i]) }
        }
        let adam = Adam(parameterCount: layout.count, learningRate: fixture.adam.learning_rate, beta1: fixture.adam.beta1,
                        beta2: fixture.adam.beta2, epsilon: fixture.adam.epsilon, weightDecay: reference.weight_decay)
        try #require(reference.losses.count == fixture.batches.count)

        var worstLoss = 0.0
        for (step, batch) in fixture.batches.enumerated() {
            let pixels = batch.pixels.map { Float($0) }, epsilon = batch.epsilon.map { Float($0) }
            let labels = batch.labels.map { UInt8($0) }
            let indices = (0..<fixture.batch).map { step * fixture.batch + $0 }
            let terms = epsilon.withUnsafeBufferPointer { e in
                withBatch(pixels: pixels, labels: labels, indices: indices, epoch: step) { b in
                    network.forwardBackward(b, parameters: parameters, gradients: gradients,
                                            gradientScale: Float(fixture.gradient_scale), epsilon: e.baseAddress)
                }
            }
            let expected = reference.losses[step]
            for (what, value, target) in [("reconstruction", terms.reconstruction, expected.reconstruction),
                                          ("kl", terms.kl, expected.kl)] {
                let allowed = LossGrid.spacing + 2e-6 * abs(target)
                worstLoss = max(worstLoss, abs(value - target) / allowed)
                #expect(abs(value - target) <= allowed, "step \(step + 1) \(what): \(value) vs \(target)")
            }
            adam.update(parameters: parameters, gradients: gradients)
        }

        var theta = Comparison(), m = Comparison(), v = Comparison()
        theta.compare("θ", parameters, layout, reference.final.parameters, scaled: 0, floor: 1e-6, relative: 0)
        m.compare("m", adam.firstMoment, layout, reference.final.exp_avg, scaled: 2e-6, floor: 0, relative: 2e-5)
        v.compare("v", adam.secondMoment, layout, reference.final.exp_avg_sq, scaled: 2e-6, floor: 0, relative: 4e-5)
        print("\(name): losses worst |Δ|/tolerance \(worstLoss); θ \(theta); m \(m); v \(v)")
        #expect(theta.failures == 0)
        #expect(m.failures == 0)
        #expect(v.failures == 0)
    }
}
