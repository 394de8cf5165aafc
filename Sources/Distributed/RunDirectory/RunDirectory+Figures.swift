import Foundation
import Model
import FileFormats
import Datasets

/// A figure written to disk and what it shows (for report.md).
public struct FigureFile: Sendable, Equatable {
    public var file: String
    public var caption: String
}

/// The evaluation figures of issue 5, written as PNG files into one directory (by rank 0 only: these are
/// single-process functions). Which figures a model gets depends on what it is: every model gets samples
/// and reconstructions; an unconditioned VAE gets interpolations, and with a 2-D latent the decoded
/// manifold and the scatter of test encodings; a CVAE with a regressor gets the Figure 8 comparison.
public struct RunFigures {
    public let directory: String
    /// Colours of the loss curves: train, test.
    public static let trainColor = RGB.categorical[0], testColor = RGB.categorical[1]

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    private func path(_ file: String) -> String { (directory as NSString).appendingPathComponent(file) }

    /// Samples, reconstructions, and (VAE) interpolations, manifold and latent scatter, named `<name>-*.png`.
    public func writeModelFigures(name: String, network: any Network, parameters: FlatBuffer,
                                  test: DataSplit) throws -> [FigureFile] {
        let height = test.images.rows, width = test.images.cols
        var written: [FigureFile] = []
        let sampleCount = 64
        let conditions = SampleConditions.fromTestSet(network: network, split: test, count: sampleCount)
        let samples = network.sample(count: sampleCount, conditions: conditions, firstIndex: 0, parameters: parameters)
        try PNG.write(to: path("\(name)-samples.png"),
                      image: ImageGrid.tile(images: samples, count: sampleCount, height: height, width: width,
                                            rows: 8, cols: 8, border: 1, scale: 2))
        written.append(FigureFile(file: "\(name)-samples.png", caption: network.latentSize > 0
            ? "64 draws z ~ N(0, I) decoded (draws 0-63 of the generation stream)" + (network.conditionSize > 0 ? ", conditioned on the middle columns of test images 0-63" : "")
            : "predictions from the middle columns of test images 0-63"))
        try RunDirectory.writeReconstructions(network: network, parameters: parameters, test: test,
                                              to: path("\(name)-reconstructions.png"))
        written.append(FigureFile(file: "\(name)-reconstructions.png",
                                  caption: "test images 0-31 (odd rows) above their reconstructions decode(μ(X)) (even rows)"))
        guard network.latentSize > 0 && network.conditionSize == 0 else { return written }

        let pairs = min(8, test.count / 2)
        if pairs > 0 {
            let firstIndices = Array(0..<pairs), secondIndices = Array(pairs..<(2 * pairs))
            let image = LatentFigures.interpolation(
                network: network, parameters: parameters,
                first: SampleConditions.pixels(of: firstIndices, in: test),
                second: SampleConditions.pixels(of: secondIndices, in: test), height: height, width: width, steps: 10)
            try PNG.write(to: path("\(name)-interpolation.png"), image: image)
            written.append(FigureFile(file: "\(name)-interpolation.png",
                                      caption: "row i: decode((1−t)·μ(test[i]) + t·μ(test[\(pairs)+i])), t = 0, 1/9, …, 1"))
        }
        if network.latentSize == 2 {
            try PNG.write(to: path("\(name)-manifold.png"),
                          image: LatentFigures.manifold(network: network, parameters: parameters, height: height, width: width,
                                                        gridSize: 20))
            written.append(FigureFile(file: "\(name)-manifold.png",
                                      caption: "decoded z over a 20×20 grid of Φ⁻¹((i+½)/20) (Kingma & Welling Fig. 4); z₁ left→right, z₂ bottom→top"))
            let all = Array(0..<test.count)
            let means = network.encode(pixels: SampleConditions.pixels(of: all, in: test), conditions: [],
                                       parameters: parameters).mean
            try PNG.write(to: path("\(name)-latent-scatter.png"),
                          image: LatentFigures.latentScatter(means: means, labels: test.labels))
            written.append(FigureFile(file: "\(name)-latent-scatter.png",
                                      caption: "μ(X) of all \(test.count) test images, coloured by class (legend in the figure; tab10 order: 0 blue, 1 orange, 2 green, 3 red, 4 purple, 5 brown, 6 pink, 7 gray, 8 olive, 9 cyan)"))
        }
        return written
    }

    /// The tutorial's Figure 8: columns are test examples 0..<examples; rows: the binarized middle column,
    /// the ground truth, the regressor's prediction, then `cvaeSamples` CVAE draws. Both networks see the
    /// same condition (built with the CVAE's evaluation binarization noise).
    public func writeCompletion(cvae: any Network, cvaeParameters: FlatBuffer, regressor: any Network,
                                regressorParameters: FlatBuffer, test: DataSplit, examples: Int = 12,
                                cvaeSamples: Int = 4, file: String = "completion.png") throws -> FigureFile {
        guard case .pixelColumn(let column, _) = cvae.spec.conditioning, cvae.spec.conditioning == regressor.spec.conditioning else {
            throw TrainingError("completion figure: needs a column-conditioned CVAE and regressor with the same column")
        }
        let count = min(examples, test.count)
        let indices = Array(0..<count)
        let truth = SampleConditions.pixels(of: indices, in: test)
        let conditions = SampleConditions.conditions(network: cvae, split: test, indices: indices)
        let prediction = regressor.decode(latent: [], conditions: conditions, count: count, parameters: regressorParameters)
        let draws = (0..<cvaeSamples).map {
            cvae.sample(count: count, conditions: conditions, firstIndex: $0 * count, parameters: cvaeParameters)
        }
        try PNG.write(to: path(file), image: LatentFigures.completion(
            columns: conditions, column: column, truth: truth, regressor: prediction, cvaeSamples: draws,
            height: test.images.rows, width: test.images.cols))
        return FigureFile(file: file, caption: "middle-column completion (tutorial Fig. 8), columns = test images 0-\(count - 1); "
            + "rows: the binarized column X, ground truth Y, regressor, then \(cvaeSamples) CVAE samples")
    }

    /// Loss curves from the `metrics.jsonl` of `run`: three panels — total (negative ELBO), reconstruction,
    /// KL — per epoch, train in blue and test in orange. Nil when the run has no metrics yet (a run stopped
    /// by --max-steps inside its first epoch).
    public func writeLossCurves(of run: RunDirectory, file: String) throws -> FigureFile? {
        guard FileManager.default.fileExists(atPath: run.metricsPath) else { return nil }
        try PNG.write(to: path(file), image: RunFigures.lossCurves(try run.readMetrics()))
        return FigureFile(file: file, caption: "per-epoch loss (nats/example) from metrics.jsonl; panels: total, reconstruction, KL; "
            + "train blue, test orange (legend in each panel); x = epoch")
    }

    public static func lossCurves(_ metrics: [EpochMetrics]) -> RGBImage {
        let epochs = metrics.map { Double($0.epoch) }
        func panel(_ title: String, _ train: (EpochMetrics) -> Double, _ test: (EpochMetrics) -> Double?) -> PlotPanel {
            PlotPanel(series: [PlotSeries(xs: epochs, ys: metrics.map(train), color: trainColor),
                               PlotSeries(xs: epochs, ys: metrics.map { test($0) ?? .nan }, color: testColor)],
                      title: title, xLabel: "epoch", yLabel: "nats per example",
                      legend: [("train", trainColor), ("test", testColor)])
        }
        return LinePlot.render(panels: [panel("loss (negative ELBO)", \.trainLoss, \.testLoss),
                                        panel("reconstruction", \.trainReconstruction, \.testReconstruction),
                                        panel("KL divergence", \.trainKL, \.testKL)])
    }
}
