/// The order in which a step's sums over examples are formed, so that they do not depend on how many
/// ranks share the batch.
///
/// Floating-point addition is not associative: a gradient summed over 128 examples on one rank, or over
/// 64 on each of two ranks and then added, differs in the last bits, and Adam turns those bits into a
/// different trajectory within a few hundred steps. So the global batch of `B` examples is cut into `L`
/// *leaves* (`L` a power of two; leaf `i` holds positions `⌊iB/L⌋ ..< ⌊(i+1)B/L⌋`), each leaf is summed in
/// example order, and the leaf sums are added in a fixed pairwise tree:
///
///              ((ℓ0 + ℓ1) + (ℓ2 + ℓ3)) + ((ℓ4 + ℓ5) + (ℓ6 + ℓ7))
///
/// A rank of `n` (`n` dividing `L`) holds `L/n` consecutive leaves, a whole subtree (`ShardSampler` gives it
/// positions `⌊rB/n⌋ ..< ⌊(r+1)B/n⌋`, which start and end on leaf boundaries); it sums its subtree locally and
/// the ranks combine their subtrees by the same tree (`Communicator.allreduceSumInTreeOrder`, the shared
/// window's `PairwiseSum`). Every weight and bias gradient then has the same bits on 1, 2, 4 … `L` ranks.
///
/// `whole` is the single leaf of the local batch: one sum in example order (the fastest, and what any
/// world size that does not divide `L` gets).
public struct BatchLeaves: Sendable, Equatable {
    /// Where each of this rank's leaves starts within the local batch, then the local batch size:
    /// `count + 1` non-decreasing offsets from 0.
    public let boundaries: [Int]

    /// This rank's leaves as offsets into its local batch (`count` must be a power of two for the tree).
    public init(boundaries: [Int]) {
        precondition(boundaries.first == 0 && boundaries.count >= 2 && zip(boundaries, boundaries.dropFirst()).allSatisfy { $0 <= $1 },
                     "BatchLeaves: boundaries must rise from 0")
        precondition(Self.isPowerOfTwo(boundaries.count - 1), "BatchLeaves: the leaf count must be a power of two")
        self.boundaries = boundaries
    }

    /// One leaf holding all `rows` examples.
    public static func whole(_ rows: Int) -> BatchLeaves { BatchLeaves(boundaries: [0, rows]) }

    /// Rank `rank` of `size`'s leaves of a global batch of `batch` examples cut into `leafCount` leaves: leaves
    /// `r·L/n ..< (r+1)·L/n`, which are exactly `ShardSampler`'s positions `⌊rB/n⌋ ..< ⌊(r+1)B/n⌋` of the batch.
    /// Nil when `size` does not divide `leafCount` (then no rank holds a whole subtree).
    public static func of(batch: Int, leafCount: Int, rank: Int, size: Int) -> BatchLeaves? {
        precondition(isPowerOfTwo(leafCount) && batch >= 0 && rank >= 0 && rank < size)
        guard leafCount % size == 0 else { return nil }
        let perRank = leafCount / size, first = rank * perRank
        let start = first * batch / leafCount
        return BatchLeaves(boundaries: (first...(first + perRank)).map { $0 * batch / leafCount - start })
    }

    /// Leaves per global batch: the largest power of two with at least `examplesPerLeaf` examples in a leaf,
    /// at most 64 (so 1, 2, 4 … 64 ranks can share a batch of 64 × `examplesPerLeaf`).
    public static func leafCount(globalBatch: Int, examplesPerLeaf: Int = 16) -> Int {
        var count = 1
        while count < 64 && globalBatch / (2 * count) >= examplesPerLeaf { count *= 2 }
        return count
    }

    public var count: Int { boundaries.count - 1 }
    public var rows: Int { boundaries[count] }
    public func range(_ leaf: Int) -> Range<Int> { boundaries[leaf]..<boundaries[leaf + 1] }

    static func isPowerOfTwo(_ n: Int) -> Bool { n > 0 && n & (n - 1) == 0 }
}

/// Loss sums that come out the same in any order. Floats summed in Double are not exact either (a batch of
/// 784-pixel examples spans too many binary orders), so the reported losses would still depend, in their
/// last digits, on how the examples were split. Each leaf's loss (and each evaluation block's) is rounded to
/// a multiple of 2⁻²⁰; from then on every addition is exact while totals stay below 2³³ (8.6·10⁹ nats: an
/// epoch of 60 000 examples at 140 000 nats each), so epoch sums, allreduces and checkpoints hold the same
/// bits whatever the number of ranks. The rounding moves a loss by at most 5·10⁻⁷ nats.
public enum LossGrid {
    public static let spacing = 0x1p-20

    /// `x` to the nearest multiple of `spacing` (NaN and ±∞ stay as they are, so a diverged loss still shows).
    @inlinable
    public static func round(_ x: Double) -> Double { (x / spacing).rounded() * spacing }
}

extension BatchLeaves {
    /// Σ over the leaves of `leafSum(leaf's rows)`, each rounded to `LossGrid`: exact in any order.
    @inlinable
    public func sumOnGrid(_ leafSum: (Range<Int>) -> Double) -> Double {
        var total = 0.0
        for leaf in 0..<count { total += LossGrid.round(leafSum(range(leaf))) }
        return total
    }
}
