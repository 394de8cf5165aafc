import CSharedAtomics
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who updates which piece of the parameters in a node-shared-memory step, decided while the step runs.
///
/// The parameters are cut into pieces (`pieceFloats`, a multiple of a cache line). In round t (a step),
/// each rank publishes, piece by piece, that its gradients there are final — as backward reports biases
/// and bands of weights (`reported`), the rest when it enters the exchange (`publishAll`) — and the ranks then take
/// pieces from one shared ticket counter (`claim`), last piece first as backward finishes them, each
/// waiting until every rank has published the piece it took. So a rank that finishes backward early
/// sums and updates the pieces the others have finished instead of waiting for them at a barrier, and a
/// faster rank takes more pieces. Which rank updates a piece never changes its bits: each element is the
/// same pairwise sum of the ranks' gradients and the same Adam arithmetic.
///
/// The control block lives in the shared window, as 64-bit words: the ticket counter on a cache line of
/// its own, then per rank its finiteness word and one word per piece (the last round published),
/// starting on a cache line so ranks never write the same line. Words only grow with the round, so a
/// block zeroed at creation needs no reset and a round can never see an earlier round's words as its own.
public final class SharedUpdateQueue {
    /// The pieces, in parameter order: `0..<count` in `pieceFloats` steps.
    public let pieces: [Range<Int>]
    public let pieceFloats: Int
    private let words: UnsafeMutablePointer<Int64>
    private let rank: Int, ranks: Int, wordsPerRank: Int
    /// Floats of each piece reported final this round (see `reported`).
    private var reportedFloats: [Int]
    /// Floats of each piece that backward never reports (padding between tensors): final from the start.
    private let unreportedFloats: [Int]
    private var reportRound: Int64 = 0
    /// Work this rank may do while it waits for other ranks (help them with their backward), called
    /// between checks; returns the nanoseconds it worked, which do not count as waiting.
    public var whileWaiting: (() -> UInt64)?

    /// 128 KiB of parameters: a few tens of microseconds of Adam, small enough to balance ranks finely.
    public static let defaultPieceFloats = 32_768
    private static let ticketBits: Int64 = 24, wordsPerLine = 8

    /// Bytes of control block for `count` parameters in pieces of `pieceFloats`, shared by `ranks` ranks.
    public static func controlBytes(count: Int, pieceFloats: Int, ranks: Int) -> Int {
        (wordsPerLine + ranks * wordsPerRank(pieces: pieceCount(count, pieceFloats))) * MemoryLayout<Int64>.stride
    }

    private static func pieceCount(_ count: Int, _ pieceFloats: Int) -> Int { (count + pieceFloats - 1) / pieceFloats }
    private static func wordsPerRank(pieces: Int) -> Int { (1 + pieces + wordsPerLine - 1) / wordsPerLine * wordsPerLine }

    /// `control`: `controlBytes` zeroed bytes on a cache-line boundary, in memory all `ranks` ranks map.
    /// `reportedRanges`: the disjoint ranges backward reports (the parameter tensors); the floats outside
    /// them count as final from the start of each round. Empty: every float is reported.
    public init(control: UnsafeMutableRawPointer, count: Int, pieceFloats: Int = defaultPieceFloats, rank: Int, ranks: Int,
                reportedRanges: [Range<Int>] = []) {
        precondition(pieceFloats > 0 && pieceFloats % 16 == 0 && Int(bitPattern: control) % 64 == 0 && (0..<ranks).contains(rank))
        let n = Self.pieceCount(count, pieceFloats)
        precondition(n < 1 << Self.ticketBits, "SharedUpdateQueue: \(n) pieces")
        pieces = (0..<n).map { $0 * pieceFloats ..< min(count, ($0 + 1) * pieceFloats) }
        self.pieceFloats = pieceFloats
        words = control.bindMemory(to: Int64.self, capacity: Self.controlBytes(count: count, pieceFloats: pieceFloats, ranks: ranks) / 8)
        self.rank = rank
        self.ranks = ranks
        wordsPerRank = Self.wordsPerRank(pieces: n)
        unreportedFloats = pieces.map { piece in
            reportedRanges.isEmpty ? 0 : piece.count - reportedRanges.reduce(0) { $0 + piece.clamped(to: $1).count }
        }
        reportedFloats = unreportedFloats
    }

    private func finitenessWord(_ r: Int) -> UnsafeMutablePointer<Int64> { words + Self.wordsPerLine + r * wordsPerRank }
    private func readyWord(_ r: Int, _ piece: Int) -> UnsafeMutablePointer<Int64> { finitenessWord(r) + 1 + piece }

    /// Backward reports `range` final in round `round` (`GradientsReady`: its gradients are written and its
    /// parameters no longer read). Each piece is published once all its floats are reported (or lie
    /// outside `reportedRanges`).
    public func reported(_ range: Range<Int>, round: Int64) {
        if round != reportRound { startRound(round) }
        guard !range.isEmpty, !pieces.isEmpty else { return }
        for index in range.lowerBound / pieceFloats ... (range.upperBound - 1) / pieceFloats where index < pieces.count {
            let overlap = range.clamped(to: pieces[index]).count
            reportedFloats[index] += overlap
            if reportedFloats[index] >= pieces[index].count { vd_atomic_store_release(readyWord(rank, index), round) }
        }
    }

    private func startRound(_ round: Int64) {
        for i in reportedFloats.indices { reportedFloats[i] = unreportedFloats[i] }
        reportRound = round
    }

    /// Every gradient of this rank is final for round `round`, and whether its first element is finite
    /// (the trainer poisons it when the rank's loss is not).
    public func publishAll(round: Int64, finite: Bool) {
        for index in pieces.indices { vd_atomic_store_release(readyWord(rank, index), round) }
        vd_atomic_store_release(finitenessWord(rank), 2 * round + (finite ? 1 : 0))
        startRound(round + 1)
    }

    /// The next piece this rank updates in round `round`, once every rank has published it, and the
    /// nanoseconds spent waiting for that; nil when every piece of the round is taken.
    public func claim(round: Int64) -> (piece: Range<Int>, waitedNanoseconds: UInt64)? {
        let counter = words, mask: Int64 = (1 << Self.ticketBits) - 1
        while true {
            let word = vd_atomic_load_acquire(counter)
            let (wordRound, next) = (word >> Self.ticketBits, word & mask)
            precondition(wordRound <= round, "SharedUpdateQueue: round \(wordRound) began while this rank is in round \(round)")
            let ticket = wordRound == round ? next : 0
            if ticket >= Int64(pieces.count) { return nil }
            guard vd_atomic_compare_exchange(counter, word, round << Self.ticketBits | (ticket + 1)) else { continue }
            let index = pieces.count - 1 - Int(ticket)  // backward finishes the last layers first
            let waited = Self.wait(doing: whileWaiting) { isPublished(index, round: round) }
            return (pieces[index], waited)
        }
    }

    /// Whether every rank has published piece `index` in round `round`.
    func isPublished(_ index: Int, round: Int64) -> Bool {
        (0..<ranks).allSatisfy { vd_atomic_load_acquire(readyWord($0, index)) >= round }
    }

    /// Whether every rank's first gradient element was finite in round `round`: the same answer on every
    /// rank. Waits for every rank's `publishAll`.
    public func allFinite(round: Int64) -> (finite: Bool, waitedNanoseconds: UInt64) {
        let waited = Self.wait(doing: whileWaiting) { (0..<ranks).allSatisfy { vd_atomic_load_acquire(finitenessWord($0)) >= 2 * round } }
        return ((0..<ranks).allSatisfy { vd_atomic_load_acquire(finitenessWord($0)) == 2 * round + 1 }, waited)
    }

    /// Spins until `done`, pausing, then yielding the core after a while: with more ranks than cores
    /// (`--oversubscribe`) the rank waited for may need this one's core. Returns the nanoseconds waited,
    /// less those `work` reports. (`WeightGradientHelp` waits for its helpers with it too.)
    static func wait(doing work: (() -> UInt64)? = nil, until done: () -> Bool) -> UInt64 {
        if done() { return 0 }
        let start = DispatchTime.now().uptimeNanoseconds
        var spins = 0, worked: UInt64 = 0
        while !done() {
            if let work { worked += work() }
            if spins < 2_000 { vd_spin_pause(); spins += 1 } else { sched_yield() }
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        return elapsed - min(elapsed, worked)
    }
}
