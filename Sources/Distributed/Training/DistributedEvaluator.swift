import Model
import Datasets

/// Held-out loss computed by all ranks together: the split is cut into blocks of `chunk` examples at fixed
/// positions and rank r of n evaluates blocks `⌊rK/n⌋ ..< ⌊(r+1)K/n⌋` of the K (`EvaluationBlocks`), so every
/// example is counted exactly once and every block's loss, on `LossGrid`, is the same for any number of ranks;
/// the sums are allreduced, exactly. Noise comes from the evaluation streams keyed by the example's index
/// (epoch 0), so the figure depends on the parameters and the seed only — not on the number of ranks, to the bit.
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
        let pixels = FlatBuffer(count: chunk * split.featureCount)
        var total = LossTerms()
        for block in EvaluationBlocks(count: split.count, block: chunk, rank: world.rank, size: world.size) {
            let indices = Array(block)
            split.fillBatch(indices: indices, into: pixels.baseAddress)
            let labels = indices.map { split.labels[$0] }
            total += indices.withUnsafeBufferPointer { indexPointer in
                labels.withUnsafeBufferPointer { labelPointer in
                    let batch = MiniBatch(count: indices.count, pixels: pixels.baseAddress, labels: labelPointer.baseAddress,
                                          exampleIndices: indexPointer.baseAddress!, epoch: 0)
                    return network.loss(batch, parameters: parameters, noise: .evaluation, epsilon: nil)
                }
            }
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

/// The blocks of `block` consecutive examples (the last may be shorter) at fixed positions of a split of
/// `count`, and rank `rank` of `size`'s contiguous share of them: `⌊rK/n⌋ ..< ⌊(r+1)K/n⌋` of the K blocks.
/// A block is evaluated by one rank, in one call, whatever the number of ranks, so its loss has the same bits.
public struct EvaluationBlocks: Sequence {
    public let count: Int, block: Int, rank: Int, size: Int

    public init(count: Int, block: Int, rank: Int, size: Int) {
        precondition(count >= 0 && block >= 1 && rank >= 0 && rank < size)
        (self.count, self.block, self.rank, self.size) = (count, block, rank, size)
    }

    public func makeIterator() -> AnyIterator<Range<Int>> {
        let blocks = (count + block - 1) / block
        var next = rank * blocks / size
        let end = (rank + 1) * blocks / size
        return AnyIterator {
            guard next < end else { return nil }
            defer { next += 1 }
            return (next * block)..<Swift.min((next + 1) * block, count)
        }
    }
}
