import Model
import Datasets

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
