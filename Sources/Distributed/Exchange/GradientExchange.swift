import Dispatch
import Foundation
import Model

/// How the ranks turn their local gradients into one identical Adam update per step (`--gradient-exchange`).
public enum GradientExchangeMode: String, CaseIterable, Sendable {
    /// Shared memory when every rank runs on one node; hierarchical when the ranks span hosts with more
    /// than one (the same number) on each; allreduce otherwise.
    case auto
    /// One MPI allreduce of the flat gradient buffer per step; every rank applies Adam to its own replica
    /// (ARCHITECTURE.md, "Data flow"; works across nodes).
    case allreduce
    /// One copy of parameters and Adam state per node, in memory every rank maps: each rank sums all ranks'
    /// gradients for its 1/n of the parameters and updates that slice (`SharedMemoryExchange`).
    case sharedMemory = "shared-memory"
    /// Several hosts with several ranks each: shared memory within a host, and each rank allreduces its
    /// slice with the ranks holding the same slice on the other hosts (`HierarchicalExchange`).
    case hierarchical
}

/// The parameters the network reads, this rank's gradient buffer, the optimizer, and the step that joins
/// them: sum every rank's gradients, apply Adam, so that all ranks continue from the same parameters.
protocol GradientExchange: AnyObject {
    /// The mode in effect (never `.auto`).
    var mode: GradientExchangeMode { get }
    var parameters: FlatBuffer { get }
    /// Where this rank's backward pass writes its gradients (normalized by the global batch).
    var gradients: FlatBuffer { get }
    var adam: Adam { get }
    /// Collective. Sums every rank's gradients and applies Adam; the outcome is not finite when a rank's
    /// first gradient element is not (a rank with a non-finite loss poisons it). Every rank gets the same answer.
    func reduceAndUpdate() throws -> ExchangeOutcome
    /// Collective. `write` runs on rank 0 (initial parameters, a restored checkpoint's parameters and
    /// moments); afterwards every rank holds rank 0's parameters and moments.
    func publish(_ write: () -> Void) throws
    /// Whether each rank holds its own copy of the parameters, which can therefore drift apart.
    var hasReplicas: Bool { get }
    /// Whether the ranks' gradients are added in the pairwise tree of ranks (`BatchLeaves`), so the sum does
    /// not depend on the exchange or on the world size.
    var sumsInTreeOrder: Bool { get }
    /// What backward tells as each layer's gradients are done (`MiniBatch.gradientsReady`), when the
    /// exchange starts summing them during backward (`--overlap`); nil otherwise.
    var gradientsReady: GradientsReady? { get }
    /// What computes backward's first-layer weight gradients (`MiniBatch.weightGradientSharing`): with the
    /// help of ranks that finished backward first, in the shared-memory exchange; nil otherwise.
    var weightGradientSharing: (any WeightGradientSharing)? { get }
    /// This rank stops holding the exchange's memory while another exchange runs (`AdaptiveExchange`, and
    /// between the timed steps of `--gradient-exchange auto`), so a rank never holds both. What the
    /// memory held is then undefined until the exchange is handed the parameters and moments again, and
    /// backward writes the gradients anew. Not collective.
    func releaseMemory()
    /// This rank stops holding the pages of memory it shares with other ranks (a node-shared window),
    /// which keep their contents; private memory is left alone. Rank 0 calls it around writing a
    /// checkpoint, which reads all of the moments, most of which other ranks update. Not collective.
    func releaseSharedPages()
    /// Before backward of every step: the step's global batch (the weight gradients some exchanges
    /// compute across ranks depend on it), and what to tell when backward starts (`true`) and stops
    /// (`false`) waiting for other ranks there. Not collective.
    func prepareStep(globalBatch: Int, waitingForRanks: @escaping (Bool) -> Void)
}

extension GradientExchange {
    var gradientsReady: GradientsReady? { nil }
    var weightGradientSharing: (any WeightGradientSharing)? { nil }
    func releaseMemory() {}
    func releaseSharedPages() {}
    func prepareStep(globalBatch: Int, waitingForRanks: @escaping (Bool) -> Void) {}
}

struct ExchangeOutcome {
    /// False when the summed gradient was NaN/Inf: the trainer stops without saving. The replicated
    /// exchanges applied no update; the shared-memory one may have updated some pieces already.
    var finite: Bool
    /// Time spent exchanging or waiting for the other ranks (the "exchange share" of a step).
    var exchangeNanoseconds: UInt64
    /// Time spent, while waiting, computing a slower rank's weight gradient blocks (`WeightGradientHelp`):
    /// GEMM work, not counted in `exchangeNanoseconds`.
    var assistNanoseconds: UInt64 = 0
    /// Of `exchangeNanoseconds`, the time backward spent waiting for other ranks' inputs of the weight
    /// gradients the ranks compute in bands (`SplitWeightGradients`): in backward, not in the exchange call.
    var backwardWaitNanoseconds: UInt64 = 0
}

/// The exchange for `mode` on `world`, with its buffers allocated, and a line saying why it was chosen.
///
/// `.auto` measures: on one node it times a few zero-gradient steps of both exchanges (interleaved; all
/// buffers are still zero, so nothing changes) and keeps the faster. Which one wins depends on where the
/// machine puts the ranks' cores, and on a VM that can change within minutes (the README gives
/// measurements). A resumed run
/// (`resumed`: the exchange its checkpoint was written with) keeps its exchange where it can, because in the
/// native order at more than two ranks the two sum the gradients in different orders.
///
/// `treeOrder`: every exchange adds the ranks' gradients in the pairwise tree of ranks (`BatchLeaves`), so
/// all of them give the same bits, at any power-of-two world size.
///
/// `overlap`: whether the allreduce exchange sums during backward, in buckets cut at `tensors` (where each
/// parameter tensor lies); the line says so when it does. The shared-memory exchange takes the padding
/// between `tensors`, which backward never reports, as always final.
///
/// `helpFloats`: room (once per node) for the inputs of a weight gradient other ranks may help with in the
/// shared-memory exchange (`WeightGradientHelp`); 0 for no help.
func makeGradientExchange(_ mode: GradientExchangeMode, resumed: GradientExchangeMode? = nil, parameterCount: Int,
                          world: any Communicator, learningRate: Double, weightDecay: Double,
                          treeOrder: Bool = false, overlap: ExchangeOverlap = .off,
                          tensors: [Range<Int>] = [], helpFloats: Int = 0, splitFloats: Int = 0) throws -> (any GradientExchange, String) {
    let buckets = try overlap.buckets(tensors: tensors, parameterCount: parameterCount, world: world)
    let (exchange, line) = try makeExchange(mode, resumed: resumed, parameterCount: parameterCount, world: world,
                                            learningRate: learningRate, weightDecay: weightDecay, treeOrder: treeOrder,
                                            buckets: buckets, tensors: tensors, helpFloats: helpFloats,
                                            splitFloats: splitFloats)
    guard let buckets, exchange is AllreduceExchange || exchange is AdaptiveExchange else {
        if overlap.mode == .on && world.size > 1 {
            throw AgreedFailure("--overlap on works with the allreduce exchange, not \(exchange.mode.rawValue). "
                + "Use --gradient-exchange allreduce, or --overlap auto")
        }
        return (exchange, line)
    }
    let overlapped = "allreduce overlapped with backward in \(buckets.ranges.count) buckets of ≥ \(overlap.bucketBytes >> 10) KB"
    return (exchange, line.isEmpty ? overlapped : line + "; " + overlapped)
}

private func makeExchange(_ mode: GradientExchangeMode, resumed: GradientExchangeMode?, parameterCount: Int,
                          world: any Communicator, learningRate: Double, weightDecay: Double,
                          treeOrder: Bool, buckets: GradientBuckets?, tensors: [Range<Int>],
                          helpFloats: Int, splitFloats: Int) throws -> (any GradientExchange, String) {
    func replicated() -> AllreduceExchange {
        AllreduceExchange(parameterCount: parameterCount, world: world, learningRate: learningRate, weightDecay: weightDecay,
                          treeOrder: treeOrder, buckets: buckets)
    }
    func perHost() throws -> HierarchicalExchange? {
        try HierarchicalExchange(parameterCount: parameterCount, world: world, learningRate: learningRate,
                                 weightDecay: weightDecay, treeOrder: treeOrder)
    }
    // In tree order every exchange sums alike; otherwise, from three ranks on, each in its own order.
    let sameBits = world.size <= 2 || treeOrder
    let resumed = resumed == .auto ? nil : resumed
    guard mode != .allreduce && world.size > 1 else { return (replicated(), "") }
    if mode == .hierarchical {
        let exchange: HierarchicalExchange?
        do { exchange = try perHost() } catch let full as SharedMemoryUnavailable {
            throw AgreedFailure("--gradient-exchange hierarchical: \(full)")
        }
        guard let exchange else {
            throw AgreedFailure("--gradient-exchange hierarchical needs several nodes with the same number of "
                + "ranks, more than one, on each. Use --gradient-exchange allreduce (or auto)")
        }
        return (exchange, "")
    }
    // Exchanges that sum in different orders: a resumed run keeps the exchange it was written with.
    if mode == .auto && !sameBits && resumed == .allreduce { return (replicated(), "auto: as the resumed run") }
    let sharedOrNil: SharedMemoryExchange?
    do {
        sharedOrNil = try SharedMemoryExchange(parameterCount: parameterCount, world: world,
                                               learningRate: learningRate, weightDecay: weightDecay, tensors: tensors,
                                               helpFloats: helpFloats, splitFloats: splitFloats)
    } catch let full as SharedMemoryUnavailable {
        guard mode == .auto else { throw AgreedFailure("--gradient-exchange shared-memory: \(full)") }
        return (replicated(), "auto: \(full)")
    }
    guard let shared = sharedOrNil else {
        if mode == .sharedMemory {
            throw AgreedFailure("--gradient-exchange shared-memory needs every rank on one node; these "
                + "\(world.size) ranks span several. Use --gradient-exchange allreduce (or auto)")
        }
        do {
            if let hierarchical = try perHost() { return (hierarchical, "auto: several ranks on each of several nodes") }
        } catch let full as SharedMemoryUnavailable {
            return (replicated(), "auto: \(full)")
        }
        return (replicated(), "auto: the ranks span several nodes")
    }
    if mode == .sharedMemory { return (shared, "") }
    if !sameBits && resumed == .sharedMemory { return (shared, "auto: as the resumed run") }
    let other = replicated()
    let (sharedSeconds, allreduceSeconds) = try timeZeroGradientSteps(shared, other, world: world)
    var line = String(format: "auto: a step's exchange took %.2f ms through shared memory, %.2f ms by allreduce",
                      sharedSeconds * 1e3, allreduceSeconds * 1e3)
    let preferShared = sharedSeconds <= allreduceSeconds
    if sameBits {
        // The exchanges give identical bits, so the choice may follow the machine during the run.
        line += "; re-checked while training"
        return (try AdaptiveExchange([shared, other], active: preferShared ? 0 : 1, world: world), line)
    }
    return preferShared ? (shared, line) : (other, line)
}

/// Mean seconds per step of `a` and `b` (averaged over ranks, so every rank gets the same numbers): clear
/// the gradients, exchange and update, read every parameter as the next forward pass would. Both start
/// zeroed, and a zero gradient leaves zero moments and parameters unchanged; Adam's step count is reset.
/// Both exchanges' memory is released afterwards: all of it is zero, as it was before.
private func timeZeroGradientSteps(_ a: any GradientExchange, _ b: any GradientExchange,
                                   world: any Communicator) throws -> (Double, Double) {
    var seconds: [Double] = [0, 0]
    let rounds = 8, warmUp = 1
    // A new replica holds all its (zeroed) pages: hand them back before the other exchange's first step.
    a.releaseMemory()
    b.releaseMemory()
    for round in 0..<rounds {
        for (index, exchange) in [a, b].enumerated() {
            // An untimed step brings back the pages released after the last round, then the timed one;
            // releasing them again keeps a rank from holding both exchanges' memory at once (released
            // memory reads as zeros or as it was, and all of it is zero here anyway).
            for timed in [false, true] {
                let start = DispatchTime.now().uptimeNanoseconds
                exchange.gradients.zero()
                _ = try exchange.reduceAndUpdate()
                _ = exchange.parameters.checksum()
                if timed && round >= warmUp { seconds[index] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
            }
            exchange.releaseMemory()
        }
    }
    a.adam.step = 0
    b.adam.step = 0
    try world.allreduceSum(&seconds)
    let per = Double(world.size * (rounds - warmUp))
    return (seconds[0] / per, seconds[1] / per)
}
