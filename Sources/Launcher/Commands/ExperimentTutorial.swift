import ArgumentParser
import Distributed
import Foundation
import Model
import Datasets

/// `vae-dist experiment`: whole experiments in one command.
struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a whole experiment: train, evaluate, draw figures, write report.md.",
        subcommands: [Tutorial.self])
}

/// `vae-dist experiment tutorial`: the MNIST experiments of the tutorial (§4.1 VAE, §5 CVAE vs regressor).
struct Tutorial: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the tutorial's VAE, column CVAE and regressor, evaluate them and write figures and report.md.",
        discussion: """
            Settings of the tutorial's Caffe code: encoder 784-1000-500-250 (ReLU), latent 30, mirrored decoder,
            sigmoid cross-entropy, batch 100, Adam lr 0.001, L2 weight decay 0.0005. Plus, for the manifold and
            latent-scatter figures, a VAE 784-400 with a 2-D latent (Kingma & Welling Fig. 4; --no-latent-2d skips it).
            Trains in-process with the same data-parallel trainer as `train`, so it runs under mpirun/launch.
            Uses MNIST if it is on disk, else Fashion-MNIST (named in the report).
            Examples:
              vae-dist experiment tutorial --epochs 20 --out runs/tutorial
              vae-dist launch -n 2 -- experiment tutorial --max-steps 50 --eval-examples 200 --samples 10   (CI)
            """)

    @Option(help: "Epochs per model.")
    var epochs = 10
    @Option(name: .customLong("max-steps"), help: "Stop each model after this many global steps (shortened runs).")
    var maxSteps: Int?
    @Option(help: "auto (MNIST if present, else Fashion-MNIST), mnist, fashion-mnist, or a directory of IDX files.")
    var dataset = "auto"
    @Option(name: .customLong("data-dir"), help: "Directory holding the data set (see `train --help`).")
    var dataDirectory: String?
    @Option(help: "Output directory (default: runs/tutorial-<data set>-<time>).")
    var out: String?
    @Option(name: .customLong("batch-size"), help: "Global batch size (the tutorial's is 100).")
    var batchSize = 100
    @Option(help: "Importance samples K for −log p(x).")
    var samples = 100
    @Option(name: .customLong("eval-examples"), help: "Evaluate on the first N test examples only (default: all).")
    var evalExamples: Int?
    @Option(help: "Seed for initialization, shuffling and noise.")
    var seed: UInt64 = 1
    @Flag(name: .customLong("no-latent-2d"), help: "Skip the extra 2-D-latent VAE (manifold and scatter figures).")
    var noLatent2D = false

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1.") }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1.") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1.") }
        guard (1...100_000).contains(samples) else { throw ValidationError("--samples must be between 1 and 100000.") }
        if let evalExamples, evalExamples < 1 { throw ValidationError("--eval-examples must be at least 1.") }
    }

    /// One model of the experiment.
    struct Part {
        var name: String
        var config: TrainingConfig
        var what: String
    }

    func parts() -> [Part] {
        func config(_ model: ModelChoice, architecture: String, latent: Int? = nil, tower: String? = nil) -> TrainingConfig {
            var c = TrainingConfig()
            c.model = model
            c.architecture = architecture
            c.latent = latent
            c.conditionTower = tower
            c.globalBatch = batchSize
            c.learningRate = 1e-3
            c.weightDecay = 5e-4
            c.seed = seed
            c.epochs = epochs
            c.maxSteps = maxSteps
            c.keepCheckpoints = 1
            return c
        }
        var result = [
            Part(name: "vae", config: config(.vae, architecture: "deep"), what: "VAE 784-1000-500-250, latent 30 (§4.1)"),
            // The tutorial's Caffe net (§5): the column goes through its own 28-1000-500-250 ReLU tower first.
            Part(name: "cvae", config: config(.cvae, architecture: "deep", tower: "1000-500-250"),
                 what: "CVAE on the binarized middle column (tower 28-1000-500-250), 784+250-1000-500-250, latent 30 (§5)"),
            Part(name: "regressor", config: config(.regressor, architecture: "deep", tower: "1000-500-250"),
                 what: "regressor 28-1000-500-250 tower, then 250-250-500-1000-784, from the binarized middle column (§5)"),
        ]
        if !noLatent2D {
            result.append(Part(name: "vae-2d", config: config(.vae, architecture: "classic", latent: 2),
                               what: "VAE 784-400, latent 2 (for the manifold and scatter figures)"))
        }
        return result
    }

    func run() throws {
        runOnWorld { world in
            let (data, test) = try world.collectively { let data = try loadDataset(); return (data, try data.test) }
            let directory = try RunDirectory.establish(
                out, default: { RunDirectory.defaultPath(model: "tutorial", dataset: data.name) }, world: world)
            if world.isRoot {
                print("vae-dist: tutorial experiment on \(data.name) with \(world.size) rank\(world.size == 1 ? "" : "s") → \(directory)")
            }

            var results: [(part: Part, evaluation: TestSetEvaluation, trainer: DataParallelTrainer, seconds: Double)] = []
            for part in parts() {
                let started = Date()
                let trainer = try DataParallelTrainer(config: part.config, dataset: data, world: world,
                                                      runDirectory: directory.run(named: part.name))
                trainer.log = { print("[\(part.name)] \($0)") }
                if world.isRoot { print("[\(part.name)] training \(part.what), \(trainer.sampler.stepsPerEpoch) steps per epoch") }
                try trainer.run()
                try trainer.verifyReplicasInSync()
                let trainSeconds = Date().timeIntervalSince(started)
                let evaluation = try LikelihoodEvaluator(network: trainer.network, parameters: trainer.parameters, world: world,
                                                         samples: samples).evaluate(on: test, limit: evalExamples)
                if world.isRoot {
                    print(String(format: "[%@] test: negative ELBO %.2f (recon %.2f + KL %.2f), −log p̂ %.2f (K=%d, %.1f s)",
                                 part.name, evaluation.negativeELBO, evaluation.reconstruction, evaluation.kl,
                                 evaluation.negativeLogLikelihood, evaluation.samples, evaluation.seconds))
                }
                results.append((part, evaluation, trainer, trainSeconds))
            }

            guard world.isRoot else { return }
            let figures = try RunFigures(directory: directory.figuresPath)
            var written: [FigureFile] = []
            for result in results {
                written += try figures.writeModelFigures(name: result.part.name, network: result.trainer.network,
                                                         parameters: result.trainer.parameters, test: test)
                if let curves = try figures.writeLossCurves(of: directory.run(named: result.part.name),
                                                            file: "\(result.part.name)-loss-curves.png") {
                    written.append(curves)
                }
            }
            if let cvae = results.first(where: { $0.part.name == "cvae" }),
               let regressor = results.first(where: { $0.part.name == "regressor" }) {
                written.append(try figures.writeCompletion(
                    cvae: cvae.trainer.network, cvaeParameters: cvae.trainer.parameters,
                    regressor: regressor.trainer.network, regressorParameters: regressor.trainer.parameters, test: test))
            }
            let report = makeReport(dataset: data, test: test, directory: directory, ranks: world.size,
                                    results: results.map { ($0.part, $0.evaluation, $0.trainer.globalStep, $0.seconds) },
                                    figures: written)
            try directory.writeReport(report)
            print("vae-dist: wrote \(directory.reportPath) and \(written.count) figures in \(directory.figuresPath)")
        }
    }

    /// `--dataset auto`: MNIST when it is on disk (never downloaded here), else Fashion-MNIST.
    func loadDataset() throws -> Dataset {
        guard dataset == "auto" else { return try Dataset.load(dataset, dataDirectory: dataDirectory) }
        if let mnist = try? Dataset.load("mnist", dataDirectory: dataDirectory) { return mnist }
        return try Dataset.load("fashion-mnist", dataDirectory: dataDirectory)
    }

    func makeReport(dataset: Dataset, test: DataSplit, directory: RunDirectory, ranks: Int,
                    results: [(part: Part, evaluation: TestSetEvaluation, steps: Int, seconds: Double)],
                    figures: [FigureFile]) -> String {
        let command = CommandLine.arguments.map(Launch.shellQuoted).joined(separator: " ")
        let dataFlag = self.dataset == "auto" ? "--dataset \(Launch.shellQuoted(dataset.name))" : "--dataset \(Launch.shellQuoted(self.dataset))"
        let dataDirFlag = dataDirectory.map { " --data-dir \(Launch.shellQuoted($0))" } ?? ""
        var lines = [
            "# The tutorial's experiments (Doersch 2016, §4.1 and §5)", "",
            "Data set: **\(dataset.name)** (\(dataset.train.count) train / \(test.count) test images, "
                + "\(test.images.rows)×\(test.images.cols)), from `\(dataset.directory)`"
                + (dataset.name.contains("fashion") ? " — MNIST was not on disk, so Fashion-MNIST stands in for it." : "."),
            "Ranks: \(ranks). Seed: \(seed). Evaluation: \(results.first?.evaluation.examples ?? 0) test examples, "
                + "K = \(samples) importance samples.", "",
            "Command:", "", "    \(command)", "",
            "## Test-set results (nats per example)", "",
            "| model | steps | train s | negative ELBO | reconstruction | KL | −log p̂ (IW) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in results {
            let e = r.evaluation
            let isRegressor = r.part.config.model == .regressor
            lines.append("| \(r.part.name) | \(r.steps) | \(String(format: "%.0f", r.seconds)) | "
                + (isRegressor ? "— | \(String(format: "%.2f", e.reconstruction)) | — | \(String(format: "%.2f", e.negativeLogLikelihood)) (exact) |"
                   : String(format: "%.2f | %.2f | %.2f | %.2f |", e.negativeELBO, e.reconstruction, e.kl, e.negativeLogLikelihood)))
        }
        lines += ["",
                  "For the VAEs the IW column estimates −log p(x); for the CVAE −log p(Y|X) (Y the whole image, X its "
                  + "binarized middle column), and for the regressor it is its exact Bernoulli −log P(Y|X), so the last two "
                  + "compare directly (Sohn et al. 2015 report ≈100 nats for a regressor vs ≈72 for a CVAE on MNIST quadrants). "
                  + "The IW estimate (Burda et al. 2016) is a tighter bound than the ELBO, so it must come out lower.", ""]
        if let cvae = results.first(where: { $0.part.name == "cvae" }), let regressor = results.first(where: { $0.part.name == "regressor" }) {
            let c = cvae.evaluation.negativeLogLikelihood, g = regressor.evaluation.negativeLogLikelihood
            lines.append(String(format: "CVAE −log p̂(Y|X) = %.2f vs regressor −log P(Y|X) = %.2f: the CVAE is %@ by %.2f nats.",
                                c, g, c < g ? "better" : "worse", abs(g - c)))
            lines.append("")
        }
        lines += ["As in the tutorial's Caffe net, the CVAE passes the column through its own 28-1000-500-250 ReLU tower "
                  + "whose 250 features join the encoder and the decoder (one tower shared by both); the regressor reads the "
                  + "same tower's features, so it has the capacity of the CVAE's decoder path.", "",
                  "## The same runs one by one", ""]
        for r in results {
            let c = r.part.config
            var flags = "--model \(c.model.rawValue) --arch \(c.architecture)"
            if let latent = c.latent { flags += " --latent \(latent)" }
            if let tower = c.conditionTower { flags += " --condition-tower \(tower)" }
            flags += " --batch-size \(c.globalBatch) --lr \(c.learningRate) --weight-decay \(c.weightDecay) --seed \(c.seed) --epochs \(c.epochs)"
            if let maxSteps = c.maxSteps { flags += " --max-steps \(maxSteps)" }
            lines.append("    vae-dist launch -n \(ranks) -- train \(flags) \(dataFlag)\(dataDirFlag) --out \(directory.run(named: r.part.name))")
            lines.append("    vae-dist launch -n \(ranks) -- eval --checkpoint \(directory.run(named: r.part.name)) --samples \(samples)"
                + (evalExamples.map { " --examples \($0)" } ?? "") + " \(dataFlag)\(dataDirFlag)")
        }
        lines += ["", "## Figures (in figures/)", ""]
        for figure in figures { lines.append("- `\(figure.file)`: \(figure.caption)") }
        lines += ["", "Loss-curve panels, left to right: total (negative ELBO; NLL for the regressor), reconstruction, KL, "
                  + "per example against the epoch; blue = train (mean over the epoch), orange = test (after the epoch). "
                  + "Tick labels are drawn; the panels have their own y scales.", ""]
        return lines.joined(separator: "\n")
    }
}
