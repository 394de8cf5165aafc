import Foundation
import Model

/// What rank 0 leaves in a run directory besides checkpoints: `metrics.jsonl` and image grids.
public struct RunArtifacts {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Appends one JSON line per epoch (a run that is resumed keeps appending).
    public func appendMetrics(_ metrics: EpochMetrics) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/metrics.jsonl"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw TrainingError("\(path): cannot open for appending: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let line = Array((metrics.jsonLine + "\n").utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw TrainingError("\(path): write failed: \(String(cString: strerror(errno)))") }
    }

    /// `samples-epoch-NNN.png` (64 draws with the same z every epoch, so progress is visible) and
    /// `reconstructions-epoch-NNN.png` (rows of 8 test images above their reconstructions).
    public func writeImages(network: any Network, parameters: FlatBuffer, test: DataSplit, epoch: Int) throws {
        let stamp = String(format: "%03d", epoch)
        let height = test.images.rows, width = test.images.cols
        let sampleCount = 64
        let conditions = SampleConditions.fromTestSet(network: network, split: test, count: sampleCount)
        let samples = network.sample(count: sampleCount, conditions: conditions, firstIndex: 0, parameters: parameters)
        try PNG.write(to: "\(directory)/samples-epoch-\(stamp).png",
                      image: ImageGrid.tile(images: samples, count: sampleCount, height: height, width: width,
                                            rows: 8, cols: 8, border: 1, scale: 2))
        try writeReconstructions(network: network, parameters: parameters, test: test,
                                 to: "\(directory)/reconstructions-epoch-\(stamp).png")
    }

    /// Four pairs of rows: 8 test images, then their reconstructions through the posterior mean.
    public func writeReconstructions(network: any Network, parameters: FlatBuffer, test: DataSplit, to path: String) throws {
        let count = min(32, test.count), cols = 8
        let pixels = SampleConditions.pixels(of: Array(0..<count), in: test)
        let conditions = SampleConditions.conditions(network: network, split: test, indices: Array(0..<count))
        let reconstructions = network.reconstruct(pixels: pixels, conditions: conditions, parameters: parameters)
        let size = test.featureCount
        var interleaved: [Float] = []
        var row = 0
        while row * cols < count {
            let range = (row * cols)..<min((row + 1) * cols, count)
            interleaved += pixels[(range.lowerBound * size)..<(range.upperBound * size)]
            interleaved += [Float](repeating: 0, count: (cols - range.count) * size)
            interleaved += reconstructions[(range.lowerBound * size)..<(range.upperBound * size)]
            interleaved += [Float](repeating: 0, count: (cols - range.count) * size)
            row += 1
        }
        try PNG.write(to: path, image: ImageGrid.tile(images: interleaved, count: interleaved.count / size,
                                                      height: test.images.rows, width: test.images.cols,
                                                      rows: 2 * row, cols: cols, border: 1, scale: 2))
    }
}

/// Condition vectors for generating with a conditional network.
public enum SampleConditions {
    /// For a column-conditioned network: the (binarized) columns of the first `count` test images; for a
    /// label-conditioned one: the classes 0, 1, …, 9, 0, … ; for the VAE: none.
    public static func fromTestSet(network: any Network, split: DataSplit, count: Int) -> [Float] {
        guard network.conditionSize > 0 else { return [] }
        if case .label = network.spec.conditioning { return labels((0..<count).map { UInt8($0 % 10) }, classes: network.conditionSize) }
        return conditions(network: network, split: split, indices: (0..<count).map { $0 % split.count })
    }

    /// One-hot rows for `labels`.
    public static func labels(_ labels: [UInt8], classes: Int) -> [Float] {
        var result = [Float](repeating: 0, count: labels.count * classes)
        for (row, label) in labels.enumerated() where Int(label) < classes { result[row * classes + Int(label)] = 1 }
        return result
    }

    /// The network's conditions for the examples `indices` of `split` (evaluation noise, epoch 0).
    public static func conditions(network: any Network, split: DataSplit, indices: [Int]) -> [Float] {
        guard network.conditionSize > 0 else { return [] }
        return network.conditions(pixels: pixels(of: indices, in: split), labels: indices.map { split.labels[$0] },
                                  exampleIndices: indices, epoch: 0, noise: .evaluation)
    }

    /// Pixels of `indices` as Floats in [0, 1].
    public static func pixels(of indices: [Int], in split: DataSplit) -> [Float] {
        var result = [Float](repeating: 0, count: indices.count * split.featureCount)
        result.withUnsafeMutableBufferPointer { split.fillBatch(indices: indices, into: $0.baseAddress!) }
        return result
    }
}
