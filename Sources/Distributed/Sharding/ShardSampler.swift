import Model

/// Which training examples each rank sees at each step.
///
/// Every epoch has one *global* order: a permutation of `0..<exampleCount` that is a pure function of
/// `(seed, epoch)` (Fisher–Yates driven by Philox4x32, so the same on every rank and for any number of
/// ranks). Step `s` takes the global batch at positions `s·B ..< (s+1)·B` of that order, and rank `r` of
/// `n` takes its contiguous slice `⌊rB/n⌋ ..< ⌊(r+1)B/n⌋` of the batch: slices differ in size by at most
/// one, every rank runs the same number of steps, and no example is seen twice in an epoch. The last
/// partial batch is dropped unless `keepPartialBatch`, in which case it is split the same way (a rank may
/// then get no example, and still joins the step's gradient exchange).
public struct ShardSampler: Sendable, Equatable {
    public let exampleCount: Int
    public let globalBatch: Int
    public let seed: UInt64
    public let keepPartialBatch: Bool

    public init(exampleCount: Int, globalBatch: Int, seed: UInt64, keepPartialBatch: Bool = false) {
        precondition(exampleCount >= 0 && globalBatch >= 1, "ShardSampler: bad sizes")
        self.exampleCount = exampleCount
        self.globalBatch = globalBatch
        self.seed = seed
        self.keepPartialBatch = keepPartialBatch
    }

    /// Steps in every epoch, the same on every rank.
    public var stepsPerEpoch: Int {
        keepPartialBatch ? (exampleCount + globalBatch - 1) / globalBatch : exampleCount / globalBatch
    }

    /// Number of examples in the global batch of `step` (the normalizer of that step's gradient).
    public func globalBatchSize(step: Int) -> Int {
        min(globalBatch, exampleCount - step * globalBatch)
    }

    /// The epoch's global order of example indices.
    public func permutation(epoch: Int) -> [Int] {
        var order = Array(0..<exampleCount)
        let key = SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        // Fisher–Yates from the back; position i draws a uniform j in 0...i from block i of the counter.
        var i = exampleCount - 1
        while i > 0 {
            let bits = Philox4x32.block(
                counter: SIMD4(UInt32(truncatingIfNeeded: i), UInt32(truncatingIfNeeded: i >> 32),
                               UInt32(truncatingIfNeeded: epoch), ShardSampler.shuffleStream),
                key: key)
            let random = UInt64(bits[0]) << 32 | UInt64(bits[1])
            let j = Int(random.multipliedFullWidth(by: UInt64(i + 1)).high)  // Lemire: uniform in 0...i
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    /// Positions within the global batch of `step` that rank `rank` of `size` trains on.
    public func localRange(step: Int, rank: Int, size: Int) -> Range<Int> {
        let batch = globalBatchSize(step: step)
        return (rank * batch / size)..<((rank + 1) * batch / size)
    }

    /// The example indices rank `rank` of `size` trains on at `step`, given the epoch's `permutation`.
    public func localIndices(step: Int, rank: Int, size: Int, permutation: [Int]) -> ArraySlice<Int> {
        let range = localRange(step: step, rank: rank, size: size)
        let start = step * globalBatch
        return permutation[(start + range.lowerBound)..<(start + range.upperBound)]
    }

    /// Philox counter word that keeps shuffling apart from the model's noise streams (which use 1...6).
    static let shuffleStream: UInt32 = 0x5348_5546  // "SHUF"
}
