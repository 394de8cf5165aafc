import ArgumentParser
import Distributed
import Foundation
import Model
import Datasets

/// `vae-dist figures`: the evaluation figures of trained runs, from their checkpoints. One process.
struct Figures: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write evaluation figures (PNG) of trained runs: samples, reconstructions, interpolations, 2-D manifold and latent scatter, Figure 8 completion, loss curves.",
        discussion: """
            --run takes a run directory (or checkpoint) of any model; its metrics.jsonl, if present, becomes
            loss-curves.png. With --cvae and --regressor (column-conditioned runs) it also writes the tutorial's
            Figure 8 comparison, completion.png. Needs the test set the runs were trained on.
            Examples:
              vae-dist figures --run runs/vae-fashion --dataset fashion-mnist
              vae-dist figures --cvae runs/t/cvae --regressor runs/t/regressor --dataset fashion-mnist --out figs
            """)

    @Option(name: .customLong("run"), help: "A run directory or checkpoint whose model's figures to write.")
    var runPath: String?
    @Option(help: "A column-conditioned CVAE run (with --regressor: completion.png).")
    var cvae: String?
    @Option(help: "A regressor run (with --cvae).")
    var regressor: String?
    @Option(help: "Output directory (default: <run>/figures, else ./figures).")
    var out: String?
    @Option(name: .customLong("cvae-samples"), help: "CVAE samples per example in completion.png.")
    var cvaeSamples = 4
    @OptionGroup var data: DataOptions

    func validate() throws {
        guard runPath != nil || (cvae != nil && regressor != nil) else {
            throw ValidationError("Give --run, or both --cvae and --regressor.")
        }
        guard (cvae == nil) == (regressor == nil) else { throw ValidationError("--cvae and --regressor go together.") }
        guard (1...16).contains(cvaeSamples) else { throw ValidationError("--cvae-samples must be between 1 and 16.") }
    }

    func run() throws {
        let test = try data.load().test
        let directory = out ?? runPath.map { RunDirectory.containing($0).figuresPath } ?? "figures"
        let figures = try RunFigures(directory: directory)
        var written: [FigureFile] = []
        if let run = runPath {
            let (network, parameters, name) = try Figures.restore(run, test: test)
            written += try figures.writeModelFigures(name: name, network: network, parameters: parameters, test: test)
            if let curves = try figures.writeLossCurves(of: RunDirectory.containing(run), file: "\(name)-loss-curves.png") {
                written.append(curves)
            }
        }
        if let cvae, let regressor {
            let c = try Figures.restore(cvae, test: test), r = try Figures.restore(regressor, test: test)
            written.append(try figures.writeCompletion(cvae: c.network, cvaeParameters: c.parameters, regressor: r.network,
                                                       regressorParameters: r.parameters, test: test, cvaeSamples: cvaeSamples))
        }
        for figure in written { print("\(directory)/\(figure.file): \(figure.caption)") }
    }

    /// A checkpoint's network and parameters, checked against the test images' size; name = its model.
    static func restore(_ path: String, test: DataSplit) throws -> (network: any Network, parameters: FlatBuffer, name: String) {
        let loaded = try TrainingCheckpoint(resolving: path)
        guard loaded.metadata.imageRows * loaded.metadata.imageCols == test.featureCount else {
            throw TrainingError("\(path): trained on \(loaded.metadata.imageRows)×\(loaded.metadata.imageCols) images, not on this data set's")
        }
        let (network, parameters) = try loaded.restoreNetwork()
        return (network, parameters, loaded.metadata.config.model.rawValue)
    }
}
