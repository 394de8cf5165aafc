import ArgumentParser
import Distributed
import Foundation
import Model
import FileFormats

/// `vae-dist sample`: decode draws from the prior into a PNG grid. One process; no MPI needed.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a PNG grid of samples from a trained model.",
        discussion: """
            VAE: z ~ N(0, I) decoded. CVAE with --model cvae-label: --label d draws only digit d.
            Column CVAE and regressor: conditioned on the middle column of test images (needs the data set).
            Examples:
              vae-dist sample --checkpoint runs/vae-fashion-mnist/latest --count 64 --out samples.png
              vae-dist sample --checkpoint runs/cl/checkpoint-000004680.vaeckpt --label 3 --out threes.png
            """)

    @Option(help: "A checkpoint file, `<run>/latest`, or a run directory (its newest checkpoint).")
    var checkpoint: String
    @Option(help: "Number of samples (1...1024).")
    var count = 64
    @Option(help: "Output PNG.")
    var out = "samples.png"
    @Option(help: "For a label-conditioned CVAE: the class to draw (0-9).")
    var label: Int?
    @Option(help: "Index of the first draw: draws are a pure function of (training seed, index); the trainer's grids show draws 0-63.")
    var first = 0
    @Option(help: "Integer upscale of every image.")
    var scale = 2
    @OptionGroup var data: DataOptions

    func validate() throws {
        guard (1...1024).contains(count) else { throw ValidationError("--count must be between 1 and 1024 (got \(count)).") }
        guard (1...16).contains(scale) else { throw ValidationError("--scale must be between 1 and 16.") }
        if let label, !(0...9).contains(label) { throw ValidationError("--label must be a digit 0-9 (got \(label)).") }
        guard (0...(1 << 30)).contains(first) else { throw ValidationError("--first must be between 0 and 2^30.") }
    }

    func run() throws {
        let loaded = try TrainingCheckpoint(resolving: checkpoint)
        let (network, parameters) = try loaded.restoreNetwork()
        let rows = loaded.metadata.imageRows, cols = loaded.metadata.imageCols
        var conditions: [Float] = []
        if label != nil && !network.isLabelConditioned {
            throw TrainingError("--label needs a label-conditioned model (train --model cvae-label); this checkpoint is a \(loaded.metadata.config.model.rawValue)")
        }
        if network.isLabelConditioned {
            let labels = (0..<count).map { UInt8(label ?? ($0 % 10)) }
            conditions = SampleConditions.labels(labels, classes: network.conditionSize)
        } else if network.conditionSize > 0 {
            let test = try data.load().test
            conditions = SampleConditions.fromTestSet(network: network, split: test, count: count)
        }
        let images = network.sample(count: count, conditions: conditions, firstIndex: first, parameters: parameters)
        let shape = ImageGrid.squareShape(for: count)
        try PNG.write(to: out, image: ImageGrid.tile(images: images, count: count, height: rows, width: cols,
                                                    rows: shape.rows, cols: shape.cols, border: 1, scale: scale))
        print("vae-dist: wrote \(count) samples to \(out)")
    }
}

extension Network {
    /// True for the CVAE conditioned on one-hot class labels.
    var isLabelConditioned: Bool {
        if case .label = spec.conditioning { return true }
        return false
    }
}
