import Model

/// `--reduction-order`: in which order a step's sums over examples and over ranks are added.
public enum ReductionOrder: String, CaseIterable, Sendable {
    /// The `BatchLeaves` order: the global batch in a fixed number of leaves, the leaves and the ranks added
    /// in one pairwise tree. The parameters have the same bits on any power-of-two number of ranks up to the
    /// leaf count (1, 2, 4, 8 for a batch of 128), so a run moved from a laptop to a cluster, or resumed on
    /// another number of ranks, continues the same trajectory.
    case canonical
    /// Each rank sums its examples in one pass and the exchange adds the ranks in its own order: the
    /// trajectory depends, in the last bits, on the number of ranks.
    case native
}

/// The order a run actually uses: `canonical` needs a world size dividing the leaf count and an exchange
/// that adds the ranks in tree order; otherwise the run falls back to `native` and says why.
public struct ReductionPlan: Sendable, Equatable {
    /// Leaves of a global batch; 1 when native (a batch under 32 examples has one leaf: nothing to share).
    public let leafCount: Int
    /// Whether the sums follow `BatchLeaves` across ranks.
    public var isCanonical: Bool { leafCount > 1 }
    /// Why a canonical request could not be honoured.
    public let fallback: String?
    let globalBatch: Int

    /// The plan for `requested` on `worldSize` ranks (before the exchange is known).
    init(_ requested: ReductionOrder, globalBatch: Int, worldSize: Int) {
        self.globalBatch = globalBatch
        let leaves = BatchLeaves.leafCount(globalBatch: globalBatch)
        if requested == .native {
            (leafCount, fallback) = (1, nil)
        } else if leaves == 1 {
            (leafCount, fallback) = (1, "a batch of \(globalBatch) is one leaf; leaves hold at least 16 examples")
        } else if leaves % worldSize != 0 {
            (leafCount, fallback) = (1, "\(worldSize) ranks cannot share the \(leaves) leaves of a \(globalBatch)-example batch; "
                + "\(Self.worldSizes(leaves)) ranks can")
        } else {
            (leafCount, fallback) = (leaves, nil)
        }
    }

    /// This plan, or native when the exchange cannot add the ranks in tree order.
    func honoured(byTreeOrderExchange treeOrder: Bool) -> ReductionPlan {
        guard isCanonical && !treeOrder else { return self }
        return ReductionPlan(globalBatch: globalBatch,
                             fallback: "the gradient exchange cannot add these ranks in tree order (their ranks are not in blocks per host)")
    }

    private init(globalBatch: Int, fallback: String) {
        (self.globalBatch, self.leafCount, self.fallback) = (globalBatch, 1, fallback)
    }

    /// Rank `rank` of `size`'s leaves of a global batch of `batch` examples (the last batch may be smaller).
    func leaves(batch: Int, rank: Int, size: Int, count: Int) -> BatchLeaves {
        guard leafCount > 1, let leaves = BatchLeaves.of(batch: batch, leafCount: leafCount, rank: rank, size: size) else {
            return .whole(count)
        }
        return leaves
    }

    /// For the checkpoint and `checkpoint show`: `canonical 8` (leaves) or `native`.
    public var recorded: String { leafCount > 1 ? "canonical \(leafCount)" : "native" }

    /// One line for the user.
    public var summary: String {
        if leafCount > 1 {
            let examples = globalBatch % leafCount == 0 ? "\(globalBatch / leafCount)"
                : "\(globalBatch / leafCount)–\(globalBatch / leafCount + 1)"
            return "reduction order canonical: \(leafCount) leaves of \(examples) examples; "
                + "\(Self.worldSizes(leafCount)) ranks give the same bits"
        }
        if let fallback { return "reduction order native (canonical impossible: \(fallback))" }
        return "reduction order native: the last bits depend on the number of ranks"
    }

    /// "1, 2, 4 or 8".
    static func worldSizes(_ leaves: Int) -> String {
        let sizes = (0...6).map { 1 << $0 }.filter { $0 <= leaves }.map(String.init)
        return sizes.count == 1 ? sizes[0] : sizes.dropLast().joined(separator: ", ") + " or " + sizes.last!
    }

    /// What a checkpoint's `reductionOrder` field says about reproducibility across world sizes.
    public static func reproducibility(recorded: String?) -> String {
        guard let recorded, recorded.hasPrefix("canonical "), let leaves = Int(recorded.dropFirst("canonical ".count)) else {
            return "reproducible across world sizes: no (reduction order \(recorded ?? "native, from an older version")); "
                + "resumed on another number of ranks it continues up to rounding"
        }
        return "reproducible across world sizes: yes (reduction order canonical, \(leaves) leaves: "
            + "\(worldSizes(leaves)) ranks give the same bits)"
    }
}
