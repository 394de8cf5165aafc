import Dispatch
import Model

/// One copy of the parameters and of Adam's moments for all ranks of a node, in a `NodeSharedMemory`
/// window; rank r's gradients in its own segment. A step is
///
///     backward into my gradient segment, publishing each bias and band of weights as it is done (`SharedUpdateQueue`) ·
///     until no piece is left: take the next piece, wait until every rank has published it,
///     g = Σ_r gradients_r (pairwise, `PairwiseSum`), Adam on the piece · synchronize
///
/// so the reduction and the optimizer are one pass that reads each gradient once, the ranks share the
/// update (a rank that finishes backward first updates what the others have finished, and takes more
/// pieces), and nothing is copied back: the next forward pass of every rank reads the one updated copy.
/// What an allreduce and n replicated Adam updates cost in memory traffic shrinks to about 1/n of one
/// update. The result is deterministic (fixed summation order, whoever updates a piece) and there are no
/// replicas to drift apart. The window's layout: `SharedWindowLayout`, then the queue's control block,
/// then `WeightGradientHelp`'s boards and help area: a rank waiting for the others computes blocks of a
/// slower rank's weight gradients, which that rank offers.
///
/// A step whose outcome is not finite may have updated some pieces with the poisoned sum: the parameters
/// are then undefined, and the trainer stops without saving them (as it does on every non-finite step).
final class SharedMemoryExchange: GradientExchange {
    let mode = GradientExchangeMode.sharedMemory
    let parameters: FlatBuffer
    let gradients: FlatBuffer
    let adam: Adam
    let hasReplicas = false
    /// The segments are added by `PairwiseSum`, in the tree of the node's ranks.
    let sumsInTreeOrder = true
    private let memory: NodeSharedMemory
    private let gradientSources: [UnsafePointer<Float>]
    /// This rank's 1/n of the parameters, cut at cache-line (16-float) boundaries: what it copies in when
    /// `AdaptiveExchange` switches to this exchange. Steps share the update through `queue`.
    let slice: Range<Int>
    private let queue: SharedUpdateQueue
    /// Nil when `helpFloats` is 0 (no help area) or the rank is alone.
    private var help: WeightGradientHelp?
    /// Nil when `splitFloats` is 0 (no split area) or the rank is alone.
    private var split: SplitWeightGradients?
    /// Steps run: the queue's round, the same on every rank (each step is collective).
    private var round: Int64 = 0

    /// Nil when the ranks do not share one node (collective: every rank gets the same answer). `tensors`:
    /// where the parameter tensors lie; the floats between them (padding) are never reported by backward.
    /// `helpFloats`: the node's help area, room for the `x` and `dy` of the largest weight gradient a rank
    /// may offer (`WeightGradientHelp`); 0 for none. `splitFloats`: room for the inputs of the weight
    /// gradients the ranks compute in bands (`SplitWeightGradients`); 0 for none.
    init?(parameterCount: Int, world: any Communicator, learningRate: Double, weightDecay: Double,
          tensors: [Range<Int>] = [], helpFloats: Int = 0, splitFloats: Int = 0) throws {
        let floats = SharedWindowLayout.floats(parameterCount: parameterCount, ranks: world.size)
        let controlFloats = SharedUpdateQueue.controlBytes(count: parameterCount, pieceFloats: SharedUpdateQueue.defaultPieceFloats,
                                                           ranks: world.size) / MemoryLayout<Float>.stride
        let boardFloats = helpFloats > 0 ? WeightGradientHelp.controlBytes(ranks: world.size) / MemoryLayout<Float>.stride : 0
        let areaFloats = (helpFloats + 15) / 16 * 16
        let splits = splitFloats > 0 && SplitWeightGradients.isSupported(ranks: world.size)
        let splitBoardFloats = splits ? SplitWeightGradients.controlBytes(ranks: world.size) / MemoryLayout<Float>.stride : 0
        let splitAreaFloats = splits ? (splitFloats + 31) / 32 * 32 : 0
        let total = floats + controlFloats + boardFloats + areaFloats + splitBoardFloats + splitAreaFloats
        guard let memory = try world.nodeSharedMemory(floats: total) else { return nil }
        self.memory = memory
        let layout = SharedWindowLayout(memory: memory, parameterCount: parameterCount, learningRate: learningRate,
                                        weightDecay: weightDecay)
        (parameters, adam, gradientSources, gradients, slice) =
            (layout.parameters, layout.adam, layout.gradientSegments, layout.gradients, layout.slice)
        queue = SharedUpdateQueue(control: UnsafeMutableRawPointer(memory.base + floats), count: parameterCount,
                                  rank: memory.rank, ranks: memory.size, reportedRanges: tensors)
        (help, split) = (nil, nil)
        guard memory.size > 1 else { return }
        let boards = memory.base + floats + controlFloats
        if helpFloats > 0 {
            let help = WeightGradientHelp(window: memory.base, windowFloats: total, control: UnsafeMutableRawPointer(boards),
                                          area: boards + boardFloats, areaFloats: areaFloats, rank: memory.rank,
                                          ranks: memory.size, currentRound: { [unowned self] in round + 1 })
            self.help = help
            queue.whileWaiting = { [unowned self] in help.assist(round: round) }
        }
        if splits {
            let splitBoards = boards + boardFloats + areaFloats
            split = SplitWeightGradients(control: UnsafeMutableRawPointer(splitBoards), area: splitBoards + splitBoardFloats,
                                         areaFloats: splitAreaFloats, segment: gradients.baseAddress,
                                         parameterCount: parameterCount, rank: memory.rank, ranks: memory.size,
                                         fallback: help, currentRound: { [unowned self] in round + 1 })
        }
    }

    func prepareStep(globalBatch: Int, waitingForRanks: @escaping (Bool) -> Void) {
        split?.stepBatch = globalBatch
        split?.waitingForRanks = waitingForRanks
    }

    /// Backward's reports (biases, bands of weights) go to the queue, for the step about to be exchanged.
    var gradientsReady: GradientsReady? { { [unowned self] in queue.reported($0, round: round + 1) } }

    var weightGradientSharing: (any WeightGradientSharing)? { split ?? help }

    func reduceAndUpdate() throws -> ExchangeOutcome {
        round += 1
        let round = round
        help?.enterExchange(round: round)
        // Every rank reads every rank's flag, so all agree on stopping (see `GradientExchange`).
        queue.publishAll(round: round, finite: gradients[0].isFinite)
        let backwardWait = split?.takeWaitNanoseconds() ?? 0
        var waited: UInt64 = 0
        // The claimed piece's parts still to update, the last first.
        var parts: [(range: Range<Int>, source: Int?)] = []
        adam.update(parameters: parameters, summing: gradientSources) { () -> (range: Range<Int>, source: Int?)? in
            if let part = parts.popLast() { return part }
            // A slower rank's offered weight gradient first: it is on the step's critical path.
            help?.assist(round: round)
            guard let claimed = queue.claim(round: round) else { return nil }
            waited += claimed.waitedNanoseconds
            guard let split else { return (claimed.piece, nil) }
            parts = split.parts(of: claimed.piece, round: round).reversed()
            return parts.popLast()
        }
        let agreement = queue.allFinite(round: round)
        waited += agreement.waitedNanoseconds
        // Blocks computed for slower ranks: GEMM time, neither exchange nor optimizer.
        let assisted = help?.takeAssistNanoseconds() ?? 0
        guard agreement.finite else {
            return ExchangeOutcome(finite: false, exchangeNanoseconds: waited + backwardWait, assistNanoseconds: assisted,
                                   backwardWaitNanoseconds: backwardWait)
        }
        let updated = DispatchTime.now().uptimeNanoseconds
        try memory.synchronize()  // every piece is updated; gradient segments may be overwritten again
        let end = DispatchTime.now().uptimeNanoseconds
        return ExchangeOutcome(finite: true, exchangeNanoseconds: waited + (end - updated) + backwardWait,
                               assistNanoseconds: assisted, backwardWaitNanoseconds: backwardWait)
    }

    /// After every rank has written its slice from a replica (`AdaptiveExchange`).
    func synchronizeForHandOver() throws { try memory.synchronize() }

    /// This rank stops holding any page of the window; the window keeps its contents (`SharedPages`).
    func releaseMemory() { memory.releaseResidentPages() }
    func releaseSharedPages() { memory.releaseResidentPages() }

    /// Copies the parameters and both moments into `replica` (`AdaptiveExchange` switching to it), a
    /// piece at a time: first the whole window leaves this rank's resident set (its gradients too, which
    /// the replica does not need), then each piece is read back, copied and released again, so the rank
    /// holds the replica and at most one piece of the window. Not collective: the window's contents stay.
    func handOver(to replica: any GradientExchange) {
        releaseMemory()
        for (source, target) in [(parameters, replica.parameters), (adam.firstMoment, replica.adam.firstMoment),
                                 (adam.secondMoment, replica.adam.secondMoment)] {
            SharedPages.piecewise(source.baseAddress, count: source.count) {
                (target.baseAddress + $0.lowerBound).update(from: source.baseAddress + $0.lowerBound, count: $0.count)
            }
        }
    }

    func publish(_ write: () -> Void) throws {
        if memory.rank == 0 { write() }
        try memory.synchronize()
    }
}
