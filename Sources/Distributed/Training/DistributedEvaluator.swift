import Model
import Datasets

/// Held-out loss computed by all ranks together: rank r of n evaluates the contiguous slice
/// `⌊rN/n⌋ ..< ⌊(r+1)N/n⌋` of the split, so every example is counted exactly once for any number of ranks;
/// the sums are allreduced. Noise comes from the evaluation streams keyed by the example's index (epoch 0),
/// so the figure depends on the parameters and the seed only — not on the number of ranks.
public struct DistributedEvaluator {
    public let network: any Network
    public let parameters: FlatBuffer
    public let world: any Communicator
    /// Examples per forward pass.
    public var chunk = 500

    public init(network: any Network, parameters: FlatBuffer, world: any Communicator) {
        self.network = network
        self.parameters = parameters
        self.world = world
    }

    /// Mean loss terms per example over the whole split.
    public func meanLoss(on split: DataSplit) throws -> LossTerms {
        try mean(of: localSums(on: split), on: split)
    }

    /// This rank's loss sums over its slice of the split (no communication).
    public func localSums(on split: DataSplit) -> LossTerms {
        let n = split.count
        let slice = (world.rank * n / world.size)..<((world.rank + 1) * n / world.size)
        let pixels = FlatBuffer(count: chunk * split.featureCount)
        var total = LossTerms()
        var start = slice.lowerBound
        while start < slice.upperBound {
            let indices = Array(start..<min(start + chunk, slice.upperBound))
            split.fillBatch(indices: indices, into: pixels.baseAddress)
            let labels = indices.map { split.labels[$0] }
            total += indices.withUnsafeBufferPointer { indexPointer in
                labels.withUnsafeBufferPointer { labelPointer in
                    let batch = MiniBatch(count: indices.count, pixels: pixels.baseAddress, labels: labelPointer.baseAddress,
                                          exampleIndices: indexPointer.baseAddress!, epoch: 0)
                    return network.loss(batch, parameters: parameters, noise: .evaluation, epsilon: nil)
                }
            }
            start += indices.count
        }
        return total
    }

    /// The mean per example over the whole split, from every rank's `localSums` (an allreduce).
    public func mean(of local: LossTerms, on split: DataSplit) throws -> LossTerms {
        var sums = [local.reconstruction, local.kl]
        try world.allreduceSum(&sums)
        let count = Double(max(split.count, 1))
        return LossTerms(reconstruction: sums[0] / count, kl: sums[1] / count)
    }
}
