import Foundation
import Model
import FileFormats
import Datasets

/// What rank 0 leaves in a run directory besides checkpoints: `metrics.jsonl` (and reading it back) and image grids.
extension RunDirectory {
    /// `metrics.jsonl`: one JSON line per epoch.
    public var metricsPath: String { path + "/metrics.jsonl" }

    /// Appends one JSON line per epoch (a run that is resumed keeps appending).
    public func appendMetrics(_ metrics: EpochMetrics) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let path = metricsPath
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw TrainingError("\(path): cannot open for appending: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let line = Array((metrics.jsonLine + "\n").utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw TrainingError("\(path): write failed: \(String(cString: strerror(errno)))") }
    }

    /// The epochs of `metrics.jsonl` (a resumed run may repeat an epoch: the last line wins).
    public func readMetrics() throws -> [EpochMetrics] {
        let path = metricsPath
        guard let data = FileManager.default.contents(atPath: path) else { throw TrainingError("\(path): cannot read") }
        var byEpoch: [Int: EpochMetrics] = [:]
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                let metrics = try JSONLine.decode(EpochMetrics.self, from: line)
                byEpoch[metrics.epoch] = metrics
            } catch {
                throw TrainingError("\(path):\(number + 1): not an epoch metrics line (\(error))")
            }
        }
        return byEpoch.keys.sorted().map { byEpoch[$0]! }
    }

    /// `samples-epoch-NNN.png` (64 draws with the same z every epoch, so progress is visible) and
    /// `reconstructions-epoch-NNN.png` (rows of 8 test images above their reconstructions).
    /// Returns the two files' paths.
    @discardableResult
    public func writeImages(network: any Network, parameters: FlatBuffer, test: DataSplit,
                            epoch: Int) throws -> (samples: String, reconstructions: String) {
        let stamp = String(format: "%03d", epoch)
        let height = test.images.rows, width = test.images.cols
        let sampleCount = 64
        let conditions = SampleConditions.fromTestSet(network: network, split: test, count: sampleCount)
        let samples = network.sample(count: sampleCount, conditions: conditions, firstIndex: 0, parameters: parameters)
        let files = (samples: "\(path)/samples-epoch-\(stamp).png", reconstructions: "\(path)/reconstructions-epoch-\(stamp).png")
        try PNG.write(to: files.samples,
                      image: ImageGrid.tile(images: samples, count: sampleCount, height: height, width: width,
                                            rows: 8, cols: 8, border: 1, scale: 2))
        try Self.writeReconstructions(network: network, parameters: parameters, test: test, to: files.reconstructions)
        return files
    }

    /// Four pairs of rows: 8 test images, then their reconstructions through the posterior mean.
    public static func writeReconstructions(network: any Network, parameters: FlatBuffer, test: DataSplit, to path: String) throws {
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
