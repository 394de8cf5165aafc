import CSharedAtomics
import Dispatch
import Model

/// Ranks that have finished backward compute blocks of rows of a slower rank's weight gradients, in the
/// node-shared window (`WeightGradientSharing` for `SharedMemoryExchange`).
///
/// When one rank runs slower than the others (another process on its core, a slower or busier core), the
/// others wait for the end of its backward, whose largest GEMMs are the weight gradients `dW = xᵀ·dy`
/// (the first layer's comes last). So such a gradient is computed in blocks of rows from the last, and
/// between two blocks, once another rank waits in the exchange, its rank *offers* the rest: it copies `x`
/// and `dy` into the node's help area and describes the GEMM on its board; the waiting ranks take
/// blocks from the first (`gemmTN`'s `nextRowBlock`) and write them straight into its gradient segment.
/// Each block is computed as the offering rank would compute it, with the same kernel path, so the
/// gradient's bits do not depend on who computed what. Once the blocks run out, the offering rank waits
/// for the helpers still inside the offer (a block at most), then reports the helpers' rows.
/// A rank in the exchange helps before it takes the next piece of the update, and while it waits for one.
///
/// One rank offers at a time: the help area is the node's, held by the rank whose number (+1) is in the
/// first word of the control block, so each rank's memory holds one area, not one per rank.
///
/// Each rank's board, in 64-bit words, each on a cache line of its own: the open offer (round and index,
/// 0 when closed), the claims (blocks taken from the first and from the last), the helpers inside the
/// offer, the last round in which the rank entered the exchange; then the GEMM's description. A helper
/// registers (`inside`) before it reads the offer again, and the offering rank closes the offer before
/// it waits for `inside` to fall to 0, all in one total order (`_seq_cst`): so either the helper sees the
/// offer closed, or the offering rank waits for it; and a description is rewritten only when no helper
/// is inside.
public final class WeightGradientHelp: WeightGradientSharing {
    private let base: UnsafeMutablePointer<Float>, windowFloats: Int
    private let control: UnsafeMutablePointer<Int64>
    private let area: UnsafeMutablePointer<Float>, areaFloats: Int
    private let rank: Int, ranks: Int
    /// The round (step) backward is in: the exchange's next round.
    private let currentRound: () -> Int64
    private var offersThisRound = 0, offerRound: Int64 = 0
    /// Per rank, the last offer this rank found with no block left.
    private var exhausted: [Int64]
    /// Time spent computing other ranks' blocks since the last `takeAssistNanoseconds`.
    private var assistNanoseconds: UInt64 = 0
    /// Rows of other ranks' weight gradients this rank computed, and of its own that others computed.
    public private(set) var rowsComputedForOthers = 0, rowsComputedByOthers = 0

    /// A weight gradient with fewer rows, or fewer weights, is not offered: a few blocks are not worth the copies.
    static let minimumRows = 128, minimumWeights = 65_536
    private static let wordsPerLine = 8, describedWords = 5, maximumLeaves = 64
    private static let wordsPerBoard = (4 + (describedWords + maximumLeaves + 1 + wordsPerLine - 1) / wordsPerLine) * wordsPerLine
    private static let closed: Int64 = 0

    /// The help area's floats for a network: `x` and `dy` of its largest weight (`[in, out]`) at the most
    /// examples a rank holds in a step (the pages a rank never offers are never touched).
    static func areaFloats(_ layout: ParameterLayout, globalBatch: Int, ranks: Int) -> Int {
        let offered = layout.entries.filter { $0.shape.count == 2 && worthOffering(m: $0.shape[0], n: $0.shape[1]) }
        return (offered.map { $0.shape[0] + $0.shape[1] }.max() ?? 0) * ((globalBatch + ranks - 1) / ranks)
    }

    static func worthOffering(m: Int, n: Int) -> Bool { m >= minimumRows && m * n >= minimumWeights }

    /// Bytes of the control block for `ranks` ranks: the area's holder, then one board per rank.
    public static func controlBytes(ranks: Int) -> Int { (wordsPerLine + ranks * wordsPerBoard) * MemoryLayout<Int64>.stride }

    /// `control`: `controlBytes` zeroed bytes on a cache line; `area`: `areaFloats` floats. Both,
    /// and the gradient segments, in the window at `base` (`windowFloats` floats) that every rank maps.
    public init(window base: UnsafeMutablePointer<Float>, windowFloats: Int, control: UnsafeMutableRawPointer,
         area: UnsafeMutablePointer<Float>, areaFloats: Int, rank: Int, ranks: Int, currentRound: @escaping () -> Int64) {
        precondition(Int(bitPattern: control) % 64 == 0 && (0..<ranks).contains(rank))
        self.base = base
        self.windowFloats = windowFloats
        self.control = control.bindMemory(to: Int64.self, capacity: Self.controlBytes(ranks: ranks) / 8)
        self.area = area
        self.areaFloats = areaFloats
        self.rank = rank
        self.ranks = ranks
        self.currentRound = currentRound
        exhausted = Array(repeating: 0, count: ranks)
    }

    /// Who holds the help area: a rank's number + 1, or 0.
    private var areaHolder: UnsafeMutablePointer<Int64> { control }
    private func board(_ r: Int) -> UnsafeMutablePointer<Int64> { control + Self.wordsPerLine + r * Self.wordsPerBoard }
    private func offerWord(_ r: Int) -> UnsafeMutablePointer<Int64> { board(r) }
    private func claimsWord(_ r: Int) -> UnsafeMutablePointer<Int64> { board(r) + Self.wordsPerLine }
    private func insideWord(_ r: Int) -> UnsafeMutablePointer<Int64> { board(r) + 2 * Self.wordsPerLine }
    private func exchangeWord(_ r: Int) -> UnsafeMutablePointer<Int64> { board(r) + 3 * Self.wordsPerLine }
    private func description(_ r: Int) -> UnsafeMutablePointer<Int64> { board(r) + 4 * Self.wordsPerLine }

    // MARK: the rank that offers

    public func weightGradient(
        _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into dW: UnsafeMutablePointer<Float>,
        m: Int, n: Int, leaves: BatchLeaves, rowsDone: (Range<Int>) -> Void
    ) {
        let round = currentRound(), k = leaves.rows, cOffset = dW - base
        guard ranks > 1, leaves.count > 1, leaves.count <= Self.maximumLeaves, Self.worthOffering(m: m, n: n),
              k * (m + n) <= areaFloats, cOffset >= 0, cOffset + m * n <= windowFloats
        else {
            withoutActuallyEscaping(rowsDone) { rowsDone in
                gemmTN(x, dy, dW, m: m, n: n, leaves: leaves, accumulate: false, rowsDone: rowsDone)
            }
            return
        }
        // Blocks from the last, alone until another rank waits in the exchange; from then on offered.
        var offered = false, ownBlocks = 0, firstOwnRow = m
        withoutActuallyEscaping(rowsDone) { rowsDone in
            gemmTN(x, dy, dW, m: m, n: n, leaves: leaves, accumulate: false,
                   rowsDone: { firstOwnRow = $0.lowerBound; rowsDone($0) },
                   nextRowBlock: { [self] blocks in
                       if !offered && blocks - ownBlocks >= 2 && anotherRankWaits(round: round)
                           && vd_atomic_compare_exchange(areaHolder, 0, Int64(rank + 1)) {
                           offer(x, dy, m: m, n: n, cOffset: cOffset, leaves: leaves, round: round, ownBlocks: ownBlocks)
                           offered = true
                       }
                       if offered { return claim(on: rank, blocks: blocks, fromLast: true) }
                       guard ownBlocks < blocks else { return nil }
                       ownBlocks += 1
                       return blocks - ownBlocks
                   })
        }
        guard offered else { return }
        // No block is left to take: close the offer and wait for the helpers still computing theirs.
        vd_atomic_store_seq_cst(offerWord(rank), Self.closed)
        _ = SharedUpdateQueue.wait { vd_atomic_load_seq_cst(insideWord(rank)) == 0 }
        vd_atomic_store_seq_cst(areaHolder, 0)
        if firstOwnRow > 0 {
            rowsComputedByOthers += firstOwnRow
            rowsDone(0..<firstOwnRow)  // the helpers took the first blocks: rows 0 ..< firstOwnRow
        }
    }

    /// Whether another rank has finished backward for `round` and waits in the exchange.
    private func anotherRankWaits(round: Int64) -> Bool {
        (0..<ranks).contains { $0 != rank && vd_atomic_load_acquire(exchangeWord($0)) == round }
    }

    /// Opens an offer of this rank's weight gradient (it holds the area): `x` and `dy` where the helpers read them, the GEMM's
    /// description, and the claims, of which this rank has taken `ownBlocks` from the last.
    private func offer(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, m: Int, n: Int, cOffset: Int,
                       leaves: BatchLeaves, round: Int64, ownBlocks: Int) {
        if offerRound != round { (offerRound, offersThisRound) = (round, 0) }
        offersThisRound += 1
        let k = leaves.rows
        area.update(from: x, count: k * m)
        (area + k * m).update(from: dy, count: k * n)
        let described = description(rank)
        (described[0], described[1], described[2], described[3]) = (Int64(m), Int64(n), Int64(cOffset), Self.pathCode)
        described[4] = Int64(leaves.count)
        for (i, boundary) in leaves.boundaries.enumerated() { described[Self.describedWords + i] = Int64(boundary) }
        vd_atomic_store_seq_cst(claimsWord(rank), Int64(ownBlocks))
        vd_atomic_store_seq_cst(offerWord(rank), round << 8 | Int64(offersThisRound & 0xFF))
    }

    /// The next block of rank `r`'s offer: the last one left (its owner) or the first (a helper); nil when
    /// none is left. Claims are `taken from the first << 32 | taken from the last`.
    private func claim(on r: Int, blocks: Int, fromLast: Bool) -> Int? {
        let word = claimsWord(r)
        while true {
            let claims = vd_atomic_load_seq_cst(word)
            let fromFirst = Int(claims >> 32), fromEnd = Int(claims & 0xFFFF_FFFF)
            guard fromFirst + fromEnd < blocks else { return nil }
            let next = fromLast ? claims + 1 : claims + (1 << 32)
            if vd_atomic_compare_exchange(word, claims, next) { return fromLast ? blocks - 1 - fromEnd : fromFirst }
        }
    }

    // MARK: the ranks that help

    /// This rank has finished backward for `round` and entered the exchange: others may offer it work.
    public func enterExchange(round: Int64) { vd_atomic_store_release(exchangeWord(rank), round) }

    /// Computes blocks of another rank's open offer of round `round`, if there is one with blocks left.
    /// Returns the nanoseconds spent computing them (0: there was nothing to take). Called while this
    /// rank waits in the exchange.
    @discardableResult
    public func assist(round: Int64) -> UInt64 {
        for step in 1..<ranks {
            let r = (rank + step) % ranks
            let offer = vd_atomic_load_acquire(offerWord(r))
            guard offer >> 8 == round, offer != exhausted[r] else { continue }
            vd_atomic_add_seq_cst(insideWord(r), 1)
            defer { vd_atomic_add_seq_cst(insideWord(r), -1) }
            guard vd_atomic_load_seq_cst(offerWord(r)) == offer else { continue }
            let start = DispatchTime.now().uptimeNanoseconds
            let rows = computeOffered(by: r)
            exhausted[r] = offer
            if rows > 0 {
                let spent = DispatchTime.now().uptimeNanoseconds - start
                assistNanoseconds += spent
                rowsComputedForOthers += rows
                return spent
            }
        }
        return 0
    }

    /// The blocks of rank `r`'s open offer this rank can take; returns the rows it computed.
    private func computeOffered(by r: Int) -> Int {
        let described = description(r)
        let (m, n, cOffset) = (Int(described[0]), Int(described[1]), Int(described[2]))
        let leafCount = Int(described[4])
        guard described[3] == Self.pathCode, (1...Self.maximumLeaves).contains(leafCount) else { return 0 }
        let boundaries = (0...leafCount).map { Int(described[Self.describedWords + $0]) }
        let leaves = BatchLeaves(boundaries: boundaries), k = leaves.rows
        var rows = 0
        gemmTN(area, area + k * m, base + cOffset, m: m, n: n, leaves: leaves, accumulate: false,
               rowsDone: { rows += $0.count },
               nextRowBlock: { [self] blocks in claim(on: r, blocks: blocks, fromLast: false) })
        return rows
    }

    /// Nanoseconds spent on other ranks' blocks since the last call.
    func takeAssistNanoseconds() -> UInt64 {
        defer { assistNanoseconds = 0 }
        return assistNanoseconds
    }

    /// The kernel path, as a number every rank of the binary agrees on: blocks are shared only between
    /// ranks that compute them alike.
    private static let pathCode = Int64(KernelPath.allCases.firstIndex(of: GEMMDispatch.active.path)! + 1)
}
