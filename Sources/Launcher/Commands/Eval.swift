import ArgumentParser
import Distributed
import Foundation
import Model

/// `vae-dist eval`: the test-set loss of a checkpoint, computed by all ranks together.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test-set negative ELBO (reconstruction + KL) and importance-weighted −log p(x) of a checkpoint, over all ranks.",
        discussion: """
            Every rank evaluates its own contiguous slice of the test set (each example exactly once), so the
            result is the same for any number of ranks; the noise is a function of --seed, the example and the
            draw k, so it is deterministic. The estimate is Burda et al.'s importance-weighted bound with K
            draws from Q(z|X): −log p̂(x) = −log (1/K) Σ_k P(X|z_k) P(z_k) / Q(z_k|X) ≤ negative ELBO. For the
            CVAE it estimates −log p(Y|X); for the regressor it is its exact Bernoulli NLL of Y.
            Examples:
              vae-dist eval --checkpoint runs/vae-fashion-mnist --dataset fashion-mnist
              vae-dist launch -n 4 -- eval --checkpoint runs/x/latest --dataset fashion-mnist --json
            """)

    @Option(help: "A checkpoint file, `<run>/latest`, or a run directory (its newest checkpoint).")
    var checkpoint: String
    @Option(help: "Seed of the evaluation noise (default: the training seed).")
    var seed: UInt64?
    @Option(help: "Importance samples K per example (1...100000).")
    var samples = 100
    @Option(help: "Evaluate only the first N test examples (default: all).")
    var examples: Int?
    @Flag(help: "Print one JSON object.")
    var json = false
    @OptionGroup var data: DataOptions

    func validate() throws {
        guard (1...100_000).contains(samples) else { throw ValidationError("--samples must be between 1 and 100000 (got \(samples)).") }
        if let examples, examples < 1 { throw ValidationError("--examples must be at least 1.") }
    }

    func run() throws {
        runOnWorld { world in
            let (dataset, test) = try world.collectively { let dataset = try data.load(); return (dataset, try dataset.test) }
            let (path, loaded) = try RunDirectory.readCheckpoint(checkpoint, world: world)
            let (network, parameters) = try world.collectively {
                guard loaded.metadata.imageRows * loaded.metadata.imageCols == test.featureCount else {
                    throw TrainingError("\(path): trained on \(loaded.metadata.imageRows)×\(loaded.metadata.imageCols) images, but \(dataset.name) has \(test.images.rows)×\(test.images.cols)")
                }
                return try loaded.restoreNetwork(seed: seed)
            }
            let result = try LikelihoodEvaluator(network: network, parameters: parameters, world: world, samples: samples)
                .evaluate(on: test, limit: examples)
            guard world.isRoot else { return }
            let kind = network.spec.kind
            if json {
                print(result.jsonLine(checkpoint: path, dataset: dataset.name, model: kind.rawValue))
            } else {
                let what = kind == .vae ? "−log p(x)" : "−log p(Y|X)"
                print(String(format: "%d %@ test images, %d rank(s), %.1f s", result.examples, dataset.name, world.size, result.seconds))
                if kind == .regressor {
                    print(String(format: "  %@ (exact, regressor): %.4f nats per example", what, result.negativeLogLikelihood))
                } else {
                    print(String(format: "  negative ELBO        %.4f nats per example (reconstruction %.4f + KL %.4f)",
                                 result.negativeELBO, result.reconstruction, result.kl))
                    print(String(format: "  %@ (IW, K=%d)  %.4f nats per example", what, result.samples, result.negativeLogLikelihood))
                }
            }
        }
    }
}
