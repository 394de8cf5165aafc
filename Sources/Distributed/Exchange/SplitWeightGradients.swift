import CSharedAtomics
import Model

/// The ranks of a node compute each large weight gradient `dW = xᵀ · dy` once between them: each rank
/// the *summed* gradient of a band of `dW`'s rows, over the whole global batch, from every rank's `x` and
/// `dy` in the node-shared window (`WeightGradientSharing` for `SharedMemoryExchange`).
///
/// Without it every rank writes a whole gradient of its own examples, and the update reads all n of
/// them to add them: n copies of `dW` go through memory where one would do. With it, rank r copies its
/// `x` (cut into the n bands of columns, one per rank) and `dy` into the window, publishes them, waits
/// until every rank has, and computes rows `band(r)` of `dW` over all n·b examples into its own gradient
/// segment; the update then reads that one segment there (`parts(of:)`). The FLOPs per rank are the same,
/// the gradient bytes written and read are 1/n, and the ranks are balanced layer by layer.
///
/// The sum's bits do not change: rank r's leaves are leaves `r·L/n ..< (r+1)·L/n` of the global batch
/// (`BatchLeaves`), so the concatenated leaves of all ranks are the global leaves, and `gemmTN` adds them
/// in the same pairwise tree in which the ranks' subtrees are otherwise added (`PairwiseSum`). Each
/// element of `dW` is one chain per leaf whatever the rows around it, so a band computed alone has the
/// bits of the same rows of the whole product.
///
/// Every rank must make the same calls in the same order, so whether a call is split depends only on
/// what all ranks share: the world size (a power of two), the step's global batch (a multiple of it: every
/// rank then holds as many examples, at least one, and runs backward) and the gradient's shape. What
/// the ranks publish (their examples and leaves) is checked after the wait; should it not fit together,
/// every rank sees the same and computes its own gradient as without the split.
///
/// The window holds two slots, used by alternate calls: a rank writes slot `c mod 2` for call `c` only
/// after every rank has published call `c − 1`, which each does after finishing call `c − 2`, the last
/// reader of that slot. Each rank's board per slot, in 64-bit words: the call's sequence number (written
/// last, with release order), its example count, its leaf count and its leaf boundaries.
public final class SplitWeightGradients: WeightGradientSharing {
    private let control: UnsafeMutablePointer<Int64>
    private let area: UnsafeMutablePointer<Float>, slotFloats: Int
    /// This rank's gradient segment: offsets into it are offsets into the parameters.
    private let segment: UnsafeMutablePointer<Float>, parameterCount: Int
    private let rank: Int, ranks: Int
    /// Computes the calls not split (too small; a step whose batch the ranks do not share evenly).
    private let fallback: (any WeightGradientSharing)?
    /// The round (step) backward is in: the exchange's next round.
    private let currentRound: () -> Int64
    /// The global batch of the step about to run backward (`prepareStep`).
    public var stepBatch = 0
    /// Told `true` before this rank waits for other ranks' inputs, `false` after: the trainer's watchdog
    /// then counts the wait as a collective (a stalled rank, not the waiting one, is blamed).
    var waitingForRanks: ((Bool) -> Void)?
    /// Split calls made so far: every rank counts alike.
    private var calls: Int64 = 0
    /// The weight gradients split in round `splitsRound`: where each lies in the parameters, its shape.
    private var splits: [(offset: Int, m: Int, n: Int)] = []
    private var splitsRound: Int64 = 0
    /// Nanoseconds spent waiting for other ranks' `x` and `dy` since the last `takeWaitNanoseconds`.
    private var waitNanoseconds: UInt64 = 0

    /// A weight gradient smaller than this is computed by each rank alone: a split is not worth the copies.
    /// (Measured on the deep model at np=2 on a Zen 4 EPYC: splitting its 125 000-weight layers too cost
    /// more in waits and copies than it saved; smaller gradients are left to `WeightGradientHelp`.)
    static let minimumRows = 128, minimumWeights = 262_144, maximumLeaves = 64
    private static let wordsPerBoard = (3 + maximumLeaves + 1 + 7) / 8 * 8

    public static func worthSplitting(m: Int, n: Int, ranks: Int) -> Bool {
        m >= max(minimumRows, 8 * ranks) && m * n >= minimumWeights
    }

    public static func isSupported(ranks: Int) -> Bool { ranks > 1 && ranks & (ranks - 1) == 0 }

    /// Floats of the two slots: `x` and `dy` of the largest weight split (`[in, out]`), for the most
    /// examples a step holds (0 when `ranks` cannot split).
    static func areaFloats(_ layout: ParameterLayout, globalBatch: Int, ranks: Int) -> Int {
        guard isSupported(ranks: ranks) else { return 0 }
        let split = layout.entries.filter { $0.shape.count == 2 && worthSplitting(m: $0.shape[0], n: $0.shape[1], ranks: ranks) }
        let widest = split.map { $0.shape[0] + $0.shape[1] }.max() ?? 0
        return 2 * ((widest * globalBatch + 15) / 16 * 16)
    }

    /// Bytes of the boards: two per rank.
    public static func controlBytes(ranks: Int) -> Int { 2 * ranks * wordsPerBoard * MemoryLayout<Int64>.stride }

    /// `control`: `controlBytes` zeroed bytes on a cache line; `area`: `areaFloats` floats; `segment`: this
    /// rank's gradient segment. All in the window every rank of the node maps.
    public init(control: UnsafeMutableRawPointer, area: UnsafeMutablePointer<Float>, areaFloats: Int,
         segment: UnsafeMutablePointer<Float>, parameterCount: Int, rank: Int, ranks: Int,
         fallback: (any WeightGradientSharing)?, currentRound: @escaping () -> Int64) {
        precondition(Int(bitPattern: control) % 64 == 0 && (0..<ranks).contains(rank) && Self.isSupported(ranks: ranks))
        self.control = control.bindMemory(to: Int64.self, capacity: Self.controlBytes(ranks: ranks) / 8)
        self.area = area
        slotFloats = areaFloats / 2 / 16 * 16
        self.segment = segment
        self.parameterCount = parameterCount
        self.rank = rank
        self.ranks = ranks
        self.fallback = fallback
        self.currentRound = currentRound
    }

    private func board(_ r: Int, slot: Int) -> UnsafeMutablePointer<Int64> { control + (slot * ranks + r) * Self.wordsPerBoard }

    /// The rows of `dW` (`m` of them) that rank `r` computes: n nearly equal bands, inner bounds on multiples of 8.
    public static func band(_ r: Int, m: Int, ranks: Int) -> Range<Int> {
        func bound(_ g: Int) -> Int { g == ranks ? m : (m * g / ranks + 4) / 8 * 8 }
        return bound(r)..<bound(r + 1)
    }

    public func weightGradient(
        _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into dW: UnsafeMutablePointer<Float>,
        m: Int, n: Int, leaves: BatchLeaves, rowsDone: (Range<Int>) -> Void
    ) {
        /// This rank's own gradient, as without the split.
        func alone() {
            withoutActuallyEscaping(rowsDone) { gemmTN(x, dy, dW, m: m, n: n, leaves: leaves, accumulate: false, rowsDone: $0) }
        }
        let offset = dW - segment, k = stepBatch
        // The same answer on every rank: nothing here depends on the rank's own examples.
        guard k > 0 && k % ranks == 0 && Self.worthSplitting(m: m, n: n, ranks: ranks) && k * (m + n) <= slotFloats,
              offset >= 0 && offset + m * n <= parameterCount
        else {
            if let fallback {
                fallback.weightGradient(x, dy, into: dW, m: m, n: n, leaves: leaves, rowsDone: rowsDone)
            } else {
                alone()
            }
            return
        }
        calls += 1
        let slot = Int(calls % 2), data = area + slot * slotFloats, rows = leaves.rows, share = k / ranks
        let fits = rows == share && leaves.count <= Self.maximumLeaves
        // x's column bands, each [k × width] with this rank's examples at rows r·share ..< (r+1)·share; then dy.
        if fits {
            for g in 0..<ranks {
                let columns = Self.band(g, m: m, ranks: ranks), width = columns.count
                let target = data + k * columns.lowerBound + rank * share * width
                for i in 0..<rows { (target + i * width).update(from: x + i * m + columns.lowerBound, count: width) }
            }
            (data + k * m + rank * share * n).update(from: dy, count: rows * n)
        }
        let mine = board(rank, slot: slot)
        mine[1] = fits ? Int64(rows) : -1  // -1: every rank sees that this one's inputs are not there
        mine[2] = Int64(leaves.count)
        for (i, b) in leaves.boundaries.prefix(Self.maximumLeaves + 1).enumerated() { mine[3 + i] = Int64(b) }
        vd_atomic_store_release(mine, calls)
        let call = calls
        let published = { (0..<self.ranks).allSatisfy { vd_atomic_load_acquire(self.board($0, slot: slot)) >= call } }
        if !published() {
            waitingForRanks?(true)
            waitNanoseconds += SharedUpdateQueue.wait(until: published)
            waitingForRanks?(false)
        }
        // Every rank's examples and leaves, as the global batch's: or, should they not fit together, no split
        // at all. Decided from the boards alone, so every rank decides alike.
        var global: [Int] = []
        for r in 0..<ranks {
            let theirs = board(r, slot: slot)
            guard theirs[1] == Int64(share) && theirs[2] == Int64(leaves.count) else { global = []; break }
            global += (0..<Int(theirs[2])).map { Int(theirs[3 + $0]) + r * share }
        }
        let leafCount = global.count
        guard leafCount > 0 && leafCount & (leafCount - 1) == 0 else { return alone() }
        global.append(k)
        let round = currentRound()
        if splitsRound != round { (splits, splitsRound) = ([], round) }
        splits.append((offset, m, n))
        // The bands of the other ranks are final as far as this rank goes: its x and dy are published,
        // its input gradient (which read W) is computed. The last bands first, as backward reports.
        let own = Self.band(rank, m: m, ranks: ranks)
        for g in stride(from: ranks - 1, to: rank, by: -1) { rowsDone(Self.band(g, m: m, ranks: ranks)) }
        withoutActuallyEscaping(rowsDone) { rowsDone in
            gemmTN(data + k * own.lowerBound, data + k * m, dW + own.lowerBound * n, m: own.count, n: n,
                   leaves: BatchLeaves(boundaries: global), accumulate: false,
                   rowsDone: { rowsDone(($0.lowerBound + own.lowerBound)..<($0.upperBound + own.lowerBound)) })
        }
        for g in stride(from: rank - 1, through: 0, by: -1) { rowsDone(Self.band(g, m: m, ranks: ranks)) }
    }

    /// `piece` of the parameters cut where the summed gradient lies: in one rank's segment (a band split
    /// in this round), or in every rank's (nil: to be added).
    public func parts(of piece: Range<Int>, round: Int64) -> [(range: Range<Int>, source: Int?)] {
        guard splitsRound == round else { return [(piece, nil)] }
        var owned: [(range: Range<Int>, source: Int?)] = []
        for split in splits where split.offset < piece.upperBound && split.offset + split.m * split.n > piece.lowerBound {
            for g in 0..<ranks {
                let rows = Self.band(g, m: split.m, ranks: ranks)
                let range = (split.offset + rows.lowerBound * split.n)..<(split.offset + rows.upperBound * split.n)
                let part = range.clamped(to: piece)
                if !part.isEmpty { owned.append((part, g)) }
            }
        }
        guard !owned.isEmpty else { return [(piece, nil)] }
        owned.sort { $0.range.lowerBound < $1.range.lowerBound }
        var result: [(range: Range<Int>, source: Int?)] = [], next = piece.lowerBound
        for part in owned {
            if part.range.lowerBound > next { result.append((next..<part.range.lowerBound, nil)) }
            result.append(part)
            next = part.range.upperBound
        }
        if next < piece.upperBound { result.append((next..<piece.upperBound, nil)) }
        return result
    }

    func takeWaitNanoseconds() -> UInt64 {
        defer { waitNanoseconds = 0 }
        return waitNanoseconds
    }
}
