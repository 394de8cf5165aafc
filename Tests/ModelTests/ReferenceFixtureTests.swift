import Foundation
import Testing
@testable import Model

/// Compares the Swift VAE with the float64 numpy reference in Fixtures/vae_small.json
/// (written by scripts/reference/vae_reference.py): same weights, same inputs, same ε injected.
///
/// Tolerances: the Swift forward runs in Float (ulp 6e−8 relative) through five layers, so the summed
/// loss terms match to ~1e−6 relative (checked at 1e−5 relative); each gradient element matches to
/// 1e−5 absolute + 1e−4 relative (gradients here are ≈ 1e−3…1; Float rounding through the
/// backward chain gives ~1e−6 absolute).
@Suite struct ReferenceFixtureTests {
    struct Fixture: Decodable {
        struct Tensor: Decodable { let shape: [Int]; let values: [Double] }
        struct Loss: Decodable { let reconstruction: Double; let kl: Double; let total: Double }
        struct Case: Decodable { let output: String; let sigma: Double; let loss: Loss; let gradients: [String: [Double]] }
        let input: Int
        let encoder_hidden: [Int]
        let latent: Int
        let decoder_hidden: [Int]
        let batch: Int
        let gradient_scale: Double
        let parameters: [String: Tensor]
        let x: [Double]
        let epsilon: [Double]
        let cases: [Case]
    }

    static func load() throws -> Fixture {
        let url = try #require(Bundle.module.url(forResource: "vae_small", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    @Test func vaeMatchesNumpyReference() throws {
        let fixture = try Self.load()
        let architecture = Architecture(inputSize: fixture.input, encoderHidden: fixture.encoder_hidden,
                                        latentSize: fixture.latent, decoderHidden: fixture.decoder_hidden)
        #expect(fixture.cases.count == 2)
        for reference in fixture.cases {
            let output: OutputDistribution = reference.output == "gaussian" ? .gaussian(sigma: Float(reference.sigma)) : .bernoulli
            let network = makeNetwork(NetworkSpec(kind: .vae, architecture: architecture, output: output), seed: 1)
            let parameters = FlatBuffer(count: network.layout.count), gradients = FlatBuffer(count: network.layout.count)
            #expect(Set(network.layout.entries.map(\.name)) == Set(fixture.parameters.keys))
            for entry in network.layout.entries {
                let tensor = try #require(fixture.parameters[entry.name])
                #expect(tensor.shape == entry.shape, "\(entry.name)")
                for i in 0..<entry.count { parameters[entry.offset + i] = Float(tensor.values[i]) }
            }
            let pixels = fixture.x.map { Float($0) }, epsilon = fixture.epsilon.map { Float($0) }
            let terms = withBatch(pixels: pixels, labels: [], indices: Array(0..<fixture.batch), epoch: 0) { batch in
                network.forwardBackward(batch, parameters: parameters, gradients: gradients,
                                        gradientScale: Float(fixture.gradient_scale), epsilon: epsilon)
            }
            let reconError = abs(terms.reconstruction - reference.loss.reconstruction) / reference.loss.reconstruction
            let klError = abs(terms.kl - reference.loss.kl) / reference.loss.kl
            var worstAbsolute = 0.0, worstRelative = 0.0, failures = 0
            for entry in network.layout.entries {
                let expected = try #require(reference.gradients[entry.name])
                for i in 0..<entry.count {
                    let error = abs(Double(gradients[entry.offset + i]) - expected[i])
                    worstAbsolute = max(worstAbsolute, error)
                    worstRelative = max(worstRelative, error / max(abs(expected[i]), 1e-3))
                    if error > 1e-5 + 1e-4 * abs(expected[i]) { failures += 1; print("\(entry.name)[\(i)]: \(gradients[entry.offset + i]) vs \(expected[i])") }
                }
            }
            print("fixture \(reference.output): recon rel err \(reconError), kl rel err \(klError), grad max abs err \(worstAbsolute), max rel err \(worstRelative)")
            #expect(reconError < 1e-5)
            #expect(klError < 1e-5)
            #expect(failures == 0)
        }
    }
}
