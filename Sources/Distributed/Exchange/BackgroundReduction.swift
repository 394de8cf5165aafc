import Foundation
import Model
#if canImport(Glibc)
import Glibc
#endif

/// Sums the gradient buffer across ranks on a thread of its own, bucket by bucket, while backward is
/// still computing the earlier layers: the overlap of communication with computation that PyTorch's DDP
/// and Horovod do (`--overlap`).
///
/// Backward reports parts of the parameters as their gradients become final (`MiniBatch.gradientsReady` →
/// `ready`); a bucket (`GradientBuckets`) is summed once all its tensors are reported and the buckets before it are
/// done, so every rank runs the same collectives in the same order. `finish` waits for the rest — buckets
/// never reported (a rank with no example this step, a network that does not report) are summed then.
///
/// - The bucket holding element 0 is summed only in `finish`: the trainer poisons element 0 with NaN after
///   backward when a loss was not finite, and that must travel with the sum.
/// - Each element is still summed in the pairwise tree of ranks (`allreduceSumInTreeOrder`), so the result
///   is bit for bit that of the exchange without overlap, whatever the buckets.
/// - While backward runs, the thread waits for its messages by polling with short sleeps, leaving the
///   core to the computation; once the main thread waits in `finish`, it polls without sleeping.
/// - MPI is called by one thread at a time: this thread during a step, the main thread between `finish`
///   and the next step's backward (`MPI_THREAD_SERIALIZED`).
final class BackgroundReduction: @unchecked Sendable {
    let buckets: GradientBuckets
    /// Held so the memory the thread sums into lives as long as the thread.
    private let gradients: FlatBuffer
    private let world: any Communicator
    /// The bucket summed last, in `finish` (the one holding element 0).
    private let heldBack: Int

    private let condition = NSCondition()
    // Guarded by `condition`.
    /// Floats of each tensor reported this step.
    private var reported: [Int]
    private var reportedPerBucket: [Int]
    private var next = 0
    private var finishing = false
    private var stopped = false
    private var failure: Error?

    init(gradients: FlatBuffer, buckets: GradientBuckets, world: any Communicator) {
        precondition(world.callsFromAnotherThread, "BackgroundReduction needs MPI callable from another thread")
        self.buckets = buckets
        self.gradients = gradients
        self.world = world
        heldBack = buckets.ranges.firstIndex { $0.contains(0) } ?? buckets.ranges.count - 1
        reported = [Int](repeating: 0, count: buckets.tensorCount)
        reportedPerBucket = [Int](repeating: 0, count: buckets.ranges.count)
        let thread = Thread { [self] in run() }
        thread.name = "vae-dist reduction"
        thread.start()
    }

    /// Ends the thread (it is idle between steps). The exchange calls it when it goes away.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Main thread, during backward: the gradients in `range` are final. A tensor counts once all its
    /// floats are reported.
    func ready(_ range: Range<Int>) {
        condition.lock()
        var wake = false
        for (tensor, bucket, floats) in buckets.tensors(overlapping: range) {
            let size = buckets.tensorRanges[tensor].count
            guard reported[tensor] < size else { continue }
            reported[tensor] = min(size, reported[tensor] + floats)
            guard reported[tensor] == size else { continue }
            reportedPerBucket[bucket] += 1
            wake = wake || bucket == next
        }
        if wake { condition.broadcast() }
        condition.unlock()
    }

    /// Main thread, after backward: sums what is left, waits for every bucket, and readies the next step.
    /// Throws the reduction thread's error, if any.
    func finish() throws {
        condition.lock()
        finishing = true
        condition.broadcast()
        while next < buckets.ranges.count { condition.wait() }
        next = 0
        finishing = false
        for index in reported.indices { reported[index] = 0 }
        for index in reportedPerBucket.indices { reportedPerBucket[index] = 0 }
        let failed = failure
        failure = nil
        condition.unlock()
        if let failed { throw failed }
    }

    /// Whether bucket `index` may be summed now (under the lock).
    private func mayStart(_ index: Int) -> Bool {
        index < buckets.ranges.count
            && (finishing || (index != heldBack && reportedPerBucket[index] == buckets.tensorsPerBucket[index]))
    }

    private func run() {
        condition.lock()
        while true {
            while !stopped && !mayStart(next) { condition.wait() }
            if stopped { break }
            let range = buckets.ranges[next]
            let skip = failure != nil  // after an error the step is lost: only let the main thread go on
            condition.unlock()
            if !skip {
                do {
                    let bucket = UnsafeMutableBufferPointer(start: gradients.baseAddress + range.lowerBound,
                                                            count: range.count)
                    try world.allreduceSumInTreeOrder(bucket, waiting: .polling(pause: { [self] in pause() }))
                } catch {
                    condition.lock()
                    failure = error
                    condition.unlock()
                }
            }
            condition.lock()
            next += 1
            if next == buckets.ranges.count { condition.broadcast() }
        }
        condition.unlock()
    }

    /// Between two polls: sleep briefly while backward computes; once the main thread waits, poll on.
    private func pause() {
        condition.lock()
        let waitedFor = finishing
        condition.unlock()
        if !waitedFor { usleep(20) }
    }
}
